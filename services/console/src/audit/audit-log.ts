import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '@app/platform';

export interface AuditEntry {
  at: string;
  actor: string;
  action: string;
  target: string;
  result: string;
  detail?: string;
  /** The message an action was about, when it was about one. */
  messageId?: string;
}

/**
 * Every console action, appended to a JSON-lines file (ADR 0012): it outlives restarts, needs
 * no database of its own, and is read with `tail`. Appends are chained so lines never interleave.
 * Each entry is also a line of the structured log (`audit` with the entry's fields), so a
 * cluster's log pipeline keeps it even where the file's volume is lost or edited.
 */
export class AuditLog {
  private tail: Promise<void> = Promise.resolve();
  private ready?: Promise<unknown>;

  constructor(
    private readonly file: string,
    private readonly logger?: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  record(entry: Omit<AuditEntry, 'at'>): Promise<void> {
    const stamped: AuditEntry = { at: this.now().toISOString(), ...entry };
    this.logger?.info('audit', { ...stamped });
    const line = `${JSON.stringify(stamped)}\n`;
    this.ready ??= mkdir(dirname(this.file), { recursive: true });
    const write = this.tail.then(async () => {
      await this.ready;
      await appendFile(this.file, line, { encoding: 'utf8', mode: 0o600 });
    });
    this.tail = write.catch(() => undefined);
    return write;
  }

  /** The newest `limit` entries, newest first. */
  async latest(limit: number): Promise<AuditEntry[]> {
    await this.tail;
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const lines = text.split('\n').filter(Boolean);
    return lines
      .slice(-limit)
      .reverse()
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as AuditEntry];
        } catch {
          return [];
        }
      });
  }
}
