// The service's public module: what a composition root (the embedded launcher, a test) may use.
import type { INestApplication } from '@nestjs/common';
import { createLogger, startHttpService } from '@app/platform';
import type { ConsoleConfig } from './config';
import { ConsoleModule } from './console.module';

export { ConsoleModule } from './console.module';
export { loadConsoleConfig, type ConsoleConfig } from './config';

export function startConsole(config: ConsoleConfig): Promise<INestApplication> {
  return startHttpService({
    name: 'console',
    module: ConsoleModule.register(config),
    port: config.port,
    host: config.host,
    logger: createLogger({ service: 'console' }),
    bodyLimit: `${config.maxBodyBytes}b`,
  });
}
