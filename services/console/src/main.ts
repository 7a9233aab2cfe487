import 'reflect-metadata';
import { closeOnSignals } from '@app/platform';
import { loadConsoleConfig } from './config';
import { startConsole } from './index';

/** The console on its own: `npm run start:console`, pointed at the services by ORDER_URL etc. */
async function main() {
  const app = await startConsole(loadConsoleConfig());
  closeOnSignals([app]);
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
