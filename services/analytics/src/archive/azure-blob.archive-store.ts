import { BlobServiceClient, type BlobItem, type ContainerClient, type ListBlobsFlatSegmentResponse } from '@azure/storage-blob';
import { InvalidContinuationToken, type ArchiveBlob, type ArchivePage, type ArchiveStore } from './archive-store';

/**
 * The archive on Azure Blob Storage: a real storage account by connection string in
 * production, Azurite locally (same API, same SDK). Blob client types stay in this file.
 */
export class AzureBlobArchiveStore implements ArchiveStore {
  private readonly container: ContainerClient;
  private ensured = false;

  constructor(connectionString: string, containerName: string) {
    this.container = BlobServiceClient.fromConnectionString(connectionString).getContainerClient(containerName);
  }

  private async ensureContainer(): Promise<void> {
    if (this.ensured) return;
    await this.container.createIfNotExists();
    this.ensured = true;
  }

  async put(name: string, body: Buffer, metadata: Record<string, string>): Promise<void> {
    await this.ensureContainer();
    await this.container.getBlockBlobClient(name).uploadData(body, {
      metadata,
      blobHTTPHeaders: { blobContentType: 'application/x-ndjson', blobContentEncoding: 'gzip' },
    });
  }

  async list(prefix: string): Promise<ArchiveBlob[]> {
    await this.ensureContainer();
    const out: ArchiveBlob[] = [];
    for await (const b of this.container.listBlobsFlat({ prefix, includeMetadata: true })) {
      out.push({ name: b.name, size: b.properties.contentLength ?? 0, metadata: b.metadata ?? {} });
    }
    return out;
  }

  async listPage(prefix: string, limit: number, continuationToken?: string): Promise<ArchivePage> {
    await this.ensureContainer();
    try {
      const pages = this.container.listBlobsFlat({ prefix, includeMetadata: true }).byPage({ maxPageSize: limit, continuationToken });
      const next = await pages.next();
      if (next.done) return { items: [], continuationToken: null };
      const page = next.value as ListBlobsFlatSegmentResponse;
      return {
        items: page.segment.blobItems.map((b: BlobItem) => ({ name: b.name, size: b.properties.contentLength ?? 0, metadata: b.metadata ?? {} })),
        continuationToken: page.continuationToken || null,
      };
    } catch (error) {
      // The service answers a marker it did not issue with 400; that is the caller's mistake.
      if (continuationToken !== undefined && (error as { statusCode?: number }).statusCode === 400) throw new InvalidContinuationToken(String(error));
      throw error;
    }
  }

  async read(name: string): Promise<Buffer | null> {
    await this.ensureContainer();
    const blob = this.container.getBlobClient(name);
    if (!(await blob.exists())) return null;
    return blob.downloadToBuffer();
  }

  async ping(): Promise<void> {
    await this.container.getProperties().catch(async (e: { statusCode?: number }) => {
      if (e.statusCode === 404) return this.ensureContainer();
      throw e;
    });
  }
}
