import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from './audit-log';

describe('the console audit log', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'audit-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('appends one JSON line per action, in order, and reads the newest first', async () => {
    const file = join(dir, 'nested', 'audit.log');
    let t = Date.parse('2026-12-07T10:00:00.000Z');
    const log = new AuditLog(file, () => new Date(t++));
    expect(await log.latest(10)).toEqual([]);
    await Promise.all(
      Array.from({ length: 5 }, (_, i) => log.record({ actor: 'alice', action: 'retry', target: `payment dead letter ${i}`, result: 'replayed' })),
    );
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { target: string }).target)).toEqual([0, 1, 2, 3, 4].map((i) => `payment dead letter ${i}`));
    expect((await log.latest(2)).map((e) => [e.at, e.target])).toEqual([
      ['2026-12-07T10:00:00.004Z', 'payment dead letter 4'],
      ['2026-12-07T10:00:00.003Z', 'payment dead letter 3'],
    ]);
  });
});
