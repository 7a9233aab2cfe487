/** The archive seam: Azure Blob Storage in production (Azurite locally), memory in unit tests. */
export interface ArchiveBlob {
  name: string;
  size: number;
  metadata: Record<string, string>;
}

export interface ArchivePage {
  items: ArchiveBlob[];
  /** Where the next page starts; null on the last page. Opaque to callers. */
  continuationToken: string | null;
}

export interface ArchiveStore {
  /** Writes (or overwrites) a blob; resolves once it is durably stored. */
  put(name: string, body: Buffer, metadata: Record<string, string>): Promise<void>;
  /** Every blob under a prefix: only for prefixes that hold a handful (one offset's blobs). */
  list(prefix: string): Promise<ArchiveBlob[]>;
  /** One page of the blobs under a prefix, in name order. */
  listPage(prefix: string, limit: number, continuationToken?: string): Promise<ArchivePage>;
  read(name: string): Promise<Buffer | null>;
}

/** A continuation token the store refuses (malformed, or from another listing). */
export class InvalidContinuationToken extends Error {}

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

  async listPage(prefix: string, limit: number, continuationToken?: string): Promise<ArchivePage> {
    let after = '';
    if (continuationToken !== undefined) {
      after = Buffer.from(continuationToken, 'base64url').toString('utf8');
      if (!after.startsWith(prefix)) throw new InvalidContinuationToken('not a token of this listing');
    }
    const all = (await this.list(prefix)).filter((b) => b.name > after);
    const items = all.slice(0, limit);
    const more = all.length > limit;
    return { items, continuationToken: more ? Buffer.from(items[items.length - 1].name, 'utf8').toString('base64url') : null };
  }

  async read(name: string): Promise<Buffer | null> {
    return this.blobs.get(name)?.body ?? null;
  }
}
