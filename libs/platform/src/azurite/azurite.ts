import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Azurite (Microsoft's Azure Storage emulator) run inside this process: the embedded mode
 * archives to a real Blob API with no infrastructure. The account is Azurite's published
 * development account, which is not a secret; production takes a connection string from the
 * environment instead.
 */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export function azuriteConnectionString(blobEndpoint: string): string {
  return `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_ACCOUNT_KEY};BlobEndpoint=${blobEndpoint}/${AZURITE_ACCOUNT};`;
}

export interface EmbeddedAzurite {
  connectionString: string;
  port: number;
  close(): Promise<void>;
}

/** Starts Azurite's blob service in-process. `location` undefined keeps blobs in memory. */
export async function startAzurite(options: { host?: string; port?: number; location?: string } = {}): Promise<EmbeddedAzurite> {
  /* eslint-disable @typescript-eslint/no-require-imports -- Azurite ships no typed entry point for its blob server; these are its CommonJS internals */
  const BlobConfiguration = require('azurite/dist/src/blob/BlobConfiguration').default;
  const BlobServer = require('azurite/dist/src/blob/BlobServer').default;
  const { DEFAULT_BLOB_PERSISTENCE_ARRAY } = require('azurite/dist/src/blob/utils/constants');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const host = options.host ?? '127.0.0.1';
  const inMemory = options.location === undefined;
  const location = options.location ?? '';
  if (!inMemory) mkdirSync(location, { recursive: true });
  const persistence = inMemory
    ? DEFAULT_BLOB_PERSISTENCE_ARRAY
    : [{ locationId: 'Default', locationPath: join(location, '__blobstorage__'), maxConcurrency: 10 }];
  const config = new BlobConfiguration(
    host,
    options.port ?? 10000,
    undefined,
    join(location, '__azurite_db_blob__.json'),
    join(location, '__azurite_db_blob_extent__.json'),
    persistence,
    false,
    undefined,
    false,
    undefined,
    false,
    true,
    '',
    '',
    '',
    undefined,
    false,
    inMemory,
  );
  const server = new BlobServer(config);
  await server.start();
  const address: string = server.getHttpServerAddress();
  const port = Number(new URL(address).port);
  return { connectionString: azuriteConnectionString(`http://${host}:${port}`), port, close: () => server.close() };
}
