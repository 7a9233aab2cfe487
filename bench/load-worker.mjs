// The load generator, in a process of its own so that its CPU is not counted against the system
// under test (in the embedded mode the system runs in the harness's process). Reads one JSON
// job from the file named in argv, drives POST /api/orders with autocannon over loopback, and prints one JSON
// line: the count and latency of every response it got, by status.
//
// Fixed rate: autocannon's overallRate spread over enough connections that a slow response
// does not hold the offered rate down (as far as a closed-loop generator can). Saturation: N
// connections, each sending its next request as soon as the previous one is answered.
import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';

const job = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const url = new URL(job.url);
if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(url.hostname)) {
  console.error(`load-worker: loopback only, not ${url.hostname}`);
  process.exit(2);
}

// Order bodies, cycled: the harness decided the mix (plain, declined, out of stock).
const bodies = job.bodies.map((b) => JSON.stringify(b));
let next = 0;
const latencies = [];
const statuses = {};

const instance = autocannon(
  {
    url: job.url,
    connections: job.connections,
    duration: job.amount ? undefined : job.durationS,
    amount: job.amount || undefined,
    overallRate: job.rate || undefined,
    timeout: 30,
    requests: [
      {
        method: 'POST',
        path: '/api/orders',
        headers: { 'content-type': 'application/json' },
        setupRequest: (req) => ({ ...req, body: bodies[next++ % bodies.length] }),
      },
    ],
  },
  (err, result) => {
    if (err) {
      console.error(`load-worker: ${err.message}`);
      process.exit(1);
    }
    process.stdout.write(
      `${JSON.stringify({
        startedAt: result.start.getTime(),
        finishedAt: result.finish.getTime(),
        sent: result.requests.sent,
        statuses,
        // Connection errors and timeouts (autocannon counts timeouts among errors).
        errors: result.errors,
        timeouts: result.timeouts,
        latenciesMs: latencies,
        // Its own CPU, which the harness reports as the load generator's.
        cpuS: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
      })}\n`,
    );
  },
);

instance.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
  statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
  latencies.push(Math.round(responseTimeMs * 1000) / 1000);
});
