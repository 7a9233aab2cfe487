import { useState } from 'preact/hooks';
import { api, query } from '../api';
import { ErrorNote, Json, time, useLoad } from '../components';

interface Blob {
  name: string;
  size: number;
  eventCount: number;
  topic?: string;
  partition?: number;
  firstOffset?: number;
  lastOffset?: number;
  from: string | null;
  to: string | null;
}
interface Verification {
  id: string;
  status: 'running' | 'done' | 'failed';
  blobsRead: number;
  report: {
    ok: boolean;
    summary: string;
    events: number;
    blobs: number;
    partitions: Array<{ topic: string; partition: number; gaps: Array<{ from: number; to: number }>; duplicates: number[] }>;
  } | null;
  error: string | null;
}

const today = () => new Date().toISOString().slice(0, 10).replaceAll('-', '/');

/** Blobs by date, topic and partition; the events of one; verify a topic, a partition (or a range of its offsets), or all. */
export function ArchivePage() {
  const [filter, setFilter] = useState({ date: today(), topic: '', partition: '' });
  const [asked, setAsked] = useState(filter);
  const [open, setOpen] = useState<string | null>(null);
  const [verification, setVerification] = useState<Verification | null>(null);
  const [verifyError, setVerifyError] = useState<string | null>(null);
  const [range, setRange] = useState({ fromOffset: '', toOffset: '' });
  const partitionAsked = asked.topic !== '' && asked.partition !== '';
  const blobs = useLoad(() => api<{ items: Blob[] }>('GET', `/api/archive/blobs${query(asked)}`), [asked]);
  const events = useLoad(
    () => (open ? api<{ total: number; items: Array<Record<string, unknown>> }>('GET', `/api/archive/events${query({ name: open })}`) : Promise.resolve(null)),
    [open],
  );
  const set = (k: keyof typeof filter) => (e: Event) => setFilter({ ...filter, [k]: (e.currentTarget as HTMLInputElement).value });

  const verify = async () => {
    setVerifyError(null);
    try {
      const scope = {
        ...(asked.topic ? { topic: asked.topic } : {}),
        ...(partitionAsked ? { partition: Number(asked.partition) } : {}),
        ...(partitionAsked && range.fromOffset !== '' ? { fromOffset: Number(range.fromOffset) } : {}),
        ...(partitionAsked && range.toOffset !== '' ? { toOffset: Number(range.toOffset) } : {}),
      };
      let job = await api<Verification>('POST', '/api/archive/verifications', scope);
      setVerification(job);
      while (job.status === 'running') {
        await new Promise((r) => setTimeout(r, 500));
        job = await api<Verification>('GET', `/api/archive/verifications/${job.id}`);
        setVerification(job);
      }
    } catch (err) {
      setVerifyError((err as Error).message);
    }
  };

  return (
    <>
      <h1 tabIndex={-1}>Archive</h1>
      <form
        class="search"
        onSubmit={(e) => {
          e.preventDefault();
          setAsked(filter);
          setOpen(null);
        }}
      >
        <label>
          Date (UTC, yyyy/MM/dd[/HH])
          <input name="date" value={filter.date} onInput={set('date')} pattern="\d{4}(/\d{2}(/\d{2}(/\d{2})?)?)?" />
        </label>
        <label>
          Topic
          <input name="topic" value={filter.topic} onInput={set('topic')} placeholder="any" />
        </label>
        <label>
          Partition
          <input name="partition" type="number" min={0} value={filter.partition} onInput={set('partition')} placeholder="any" />
        </label>
        <button type="submit">Show blobs</button>
      </form>
      <section aria-labelledby="verify-h" class="verify">
        <h2 id="verify-h">Verify</h2>
        <p class="muted">
          Checks that the archive holds every committed offset exactly once, for the topic and partition above (or all of them); with a partition, for a range
          of its offsets if given.
        </p>
        {partitionAsked && (
          <div class="range">
            <label>
              From offset
              <input
                name="fromOffset"
                type="number"
                min={0}
                value={range.fromOffset}
                onInput={(e) => setRange({ ...range, fromOffset: e.currentTarget.value })}
                placeholder="the first"
              />
            </label>
            <label>
              To offset
              <input
                name="toOffset"
                type="number"
                min={0}
                value={range.toOffset}
                onInput={(e) => setRange({ ...range, toOffset: e.currentTarget.value })}
                placeholder="the last"
              />
            </label>
          </div>
        )}
        <button type="button" onClick={() => void verify()} disabled={verification?.status === 'running'}>
          Run verify{' '}
          {asked.topic
            ? `of ${asked.topic}${partitionAsked ? ` p${asked.partition}` : ''}${partitionAsked && (range.fromOffset || range.toOffset) ? ` offsets ${range.fromOffset || 'first'}–${range.toOffset || 'last'}` : ''}`
            : 'of the whole archive'}
        </button>
        <ErrorNote error={verifyError} />
        {verification && (
          <p role="status" class={`verdict ${verification.report?.ok ? 'ok' : verification.status === 'running' ? '' : 'bad'}`}>
            {verification.status === 'running'
              ? `Running… ${verification.blobsRead} blobs read`
              : verification.report
                ? `${verification.report.ok ? 'Verdict: OK' : 'Verdict: PROBLEMS'} — ${verification.report.summary} (${verification.report.events} events, ${verification.report.blobs} blobs read)`
                : `Failed: ${verification.error}`}
          </p>
        )}
        {verification?.report && !verification.report.ok && (
          <ul class="problems">
            {verification.report.partitions
              .filter((p) => p.gaps.length || p.duplicates.length)
              .map((p) => (
                <li key={`${p.topic}#${p.partition}`}>
                  {p.topic} p{p.partition}: {p.gaps.length ? `missing ${p.gaps.map((g) => (g.from === g.to ? g.from : `${g.from}–${g.to}`)).join(', ')}` : ''}
                  {p.gaps.length && p.duplicates.length ? '; ' : ''}
                  {p.duplicates.length ? `twice ${p.duplicates.join(', ')}` : ''}
                </li>
              ))}
          </ul>
        )}
      </section>
      <ErrorNote error={blobs.error} />
      {blobs.data && (
        <table class="blobs">
          <caption>{blobs.data.items.length} blobs</caption>
          <thead>
            <tr>
              <th scope="col">topic</th>
              <th scope="col" class="num">
                partition
              </th>
              <th scope="col">offsets</th>
              <th scope="col" class="num">
                events
              </th>
              <th scope="col">from</th>
              <th scope="col">blob</th>
            </tr>
          </thead>
          <tbody>
            {blobs.data.items.map((b) => (
              <tr key={b.name}>
                <td>{b.topic}</td>
                <td class="num">{b.partition}</td>
                <td class="mono">
                  {b.firstOffset}–{b.lastOffset}
                </td>
                <td class="num">{b.eventCount}</td>
                <td>{time(b.from)}</td>
                <td>
                  <button type="button" class="link" onClick={() => setOpen(b.name)} aria-pressed={open === b.name}>
                    view events
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {open && (
        <section aria-labelledby="events-h">
          <h2 id="events-h">
            Events of <span class="mono">{open}</span>
          </h2>
          <ErrorNote error={events.error} />
          {events.data && (
            <ol class="events">
              {events.data.items.map((e, i) => {
                const ev = e.event as { type?: string; correlationId?: string } | undefined;
                return (
                  <li key={i}>
                    <details>
                      <summary>
                        @{String(e.offset)} <strong>{ev?.type}</strong> <span class="mono muted">{ev?.correlationId}</span>
                      </summary>
                      <Json value={e} />
                    </details>
                  </li>
                );
              })}
            </ol>
          )}
        </section>
      )}
    </>
  );
}
