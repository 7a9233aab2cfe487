/** The archive seam: Azure Blob Storage in production (Azurite locally), memory in unit tests. */
export interface ArchiveBlob {
  name: string;
  size: number;
  metadata: Record<string, string>;
}

export interface ArchiveStore {
  /** Writes (or overwrites) a blob; resolves once it is durably stored. */
  put(name: string, body: Buffer, metadata: Record<string, string>): Promise<void>;
  list(prefix: string): Promise<ArchiveBlob[]>;
  read(name: string): Promise<Buffer | null>;
}

export const ARCHIVE_STORE = Symbol('ARCHIVE_STORE');

export class InMemoryArchiveStore implements ArchiveStore {
  readonly blobs = new Map<string, { body: Buffer; metadata: Record<string, string> }>();

  async put(name: string, body: Buffer, metadata: Record<string, string>): Promise<void> {
    this.blobs.set(name, { body, metadata: { ...metadata } });
  }

  async list(prefix: string): Promise<ArchiveBlob[]> {
    return [...this.blobs.entries()]
      .filter(([n]) => n.startsWith(prefix))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, b]) => ({ name, size: b.body.length, metadata: { ...b.metadata } }));
  }

  async read(name: string): Promise<Buffer | null> {
    return this.blobs.get(name)?.body ?? null;
  }
}
