import 'reflect-metadata';
import { closeOnSignals, createLogger } from '@app/platform';
import { startEmbedded } from './embedded';

/** `npm start`: the five services in one process, no infrastructure needed. */
async function main(): Promise<void> {
  const system = await startEmbedded();
  const logger = createLogger({ service: 'embedded' });
  logger.info('order saga platform is up (embedded mode)', {
    ...system.urls,
    archiveBlobEndpoint: system.blobConnectionString.match(/BlobEndpoint=([^;]+)/)?.[1],
  });
  closeOnSignals([], () => system.stop());
}

main().catch((error) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
