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
    const log = new AuditLog(file, undefined, () => new Date(t++));
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

  it('writes each entry to the structured log too, with the same fields', async () => {
    const lines: Array<[string, Record<string, unknown> | undefined]> = [];
    const logger = { info: (m: string, meta?: Record<string, unknown>) => lines.push([m, meta]) };
    const log = new AuditLog(join(dir, 'audit.log'), logger as never, () => new Date('2026-12-07T10:00:00.000Z'));
    await log.record({ actor: 'alice', action: 'sign-in', target: 'console', result: 'refused' });
    expect(lines).toEqual([['audit', { at: '2026-12-07T10:00:00.000Z', actor: 'alice', action: 'sign-in', target: 'console', result: 'refused' }]]);
    expect(JSON.parse(readFileSync(join(dir, 'audit.log'), 'utf8'))).toEqual(lines[0]![1]);
  });
});
