import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { sleep } from '@app/platform';

const run = promisify(execFile);

/** The local RabbitMQ node's control tool (the suite's broker runs on this machine). */
export async function rabbitmqctl(...args: string[]): Promise<string> {
  try {
    const { stdout } = await run('rabbitmqctl', args, { timeout: 90_000 });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`rabbitmqctl ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`, { cause: error });
  }
}

/** Stops the RabbitMQ application (the Erlang node stays up): every connection drops. */
export async function stopBroker(): Promise<void> {
  await rabbitmqctl('stop_app');
}

/** Starts the RabbitMQ application and waits until it has fully booted; a no-op if it runs. */
export async function startBroker(timeoutMs = 60_000): Promise<void> {
  await rabbitmqctl('start_app');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await rabbitmqctl('await_startup', '--timeout', '10');
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(500);
    }
  }
}
