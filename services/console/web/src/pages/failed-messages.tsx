import { useState } from 'preact/hooks';
import { api } from '../api';
import { Details, ErrorNote, Json, time, useLoad } from '../components';

interface FailedMessage {
  service: string;
  id: string;
  messageType: string;
  messageId?: string;
  orderId?: string;
  errorType: string;
  deadLetteredAt: string;
  retries: number;
  failure: { error: string; stack?: string; attempts: number; deliveries: number };
  headers: Record<string, unknown>;
  message: unknown;
}
interface Group {
  key: string;
  messageType: string;
  errorType: string;
  frame: string;
  services: string[];
  count: number;
  firstSeen: string;
  lastSeen: string;
  messages: FailedMessage[];
}

const keyOf = (m: FailedMessage) => `${m.service}/${m.id}`;
/** A retry starts the attempts again; how often the console retried a message says how long it has been failing. */
const retried = (n: number) => (n === 0 ? '' : `; retried ${n === 1 ? 'once' : `${n} times`} from the console`);
const backAfterRetry = (g: Group) => {
  const n = g.messages.filter((m) => m.retries > 0).length;
  return n ? ` · ${n} back after a retry` : '';
};

/** Every service's dead letters, grouped by failure; retry or delete one, a selection, or a group. */
export function FailedMessagesPage() {
  const { data, error, reload } = useLoad(() => api<{ count: number; groups: Group[] }>('GET', '/api/failed-messages'), [], 5000);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [outcome, setOutcome] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const act = async (action: 'retry' | 'delete', messages: FailedMessage[]) => {
    setBusy(true);
    try {
      const r = await api<{ results: Array<{ result: string }> }>('POST', `/api/failed-messages/${action}`, {
        items: messages.map((m) => ({ service: m.service, id: m.id })),
      });
      const ok = r.results.filter((x) => x.result === (action === 'retry' ? 'replayed' : 'deleted')).length;
      setOutcome(`${action === 'retry' ? 'Retried' : 'Deleted'} ${ok} of ${r.results.length}.`);
      setSelected(new Set());
    } catch (err) {
      setOutcome(`Failed: ${(err as Error).message}`);
    } finally {
      setBusy(false);
      await reload();
    }
  };
  const toggle = (m: FailedMessage) => {
    const next = new Set(selected);
    if (next.has(keyOf(m))) next.delete(keyOf(m));
    else next.add(keyOf(m));
    setSelected(next);
  };
  const chosen = (data?.groups ?? []).flatMap((g) => g.messages).filter((m) => selected.has(keyOf(m)));

  return (
    <>
      <h1 tabIndex={-1}>Failed messages</h1>
      <p class="muted">
        Dead letters of Order, Payment, Inventory and Notification, and the Kafka records Analytics could not read, grouped by message type, error type and the
        first stack frame of our code. A retry sends a message back to the queue it failed in (Analytics' through its retry topic); if it fails again it comes
        back to its group.
      </p>
      <ErrorNote error={error} />
      <div class="toolbar">
        <button type="button" disabled={busy || !chosen.length} onClick={() => void act('retry', chosen)}>
          Retry selected ({chosen.length})
        </button>{' '}
        <button type="button" class="danger" disabled={busy || !chosen.length} onClick={() => void act('delete', chosen)}>
          Delete selected ({chosen.length})
        </button>
        <span role="status" class="outcome">
          {outcome}
        </span>
      </div>
      {data && !data.groups.length && <p>No failed messages.</p>}
      {data?.groups.map((g) => (
        <section class="group" key={g.key} aria-label={`${g.messageType}: ${g.errorType}`}>
          <h2>
            {g.messageType} · {g.errorType} <span class="count">{g.count}</span>
          </h2>
          <p class="muted">
            <span class="mono">{g.frame}</span> · {g.services.join(', ')} · first {time(g.firstSeen)} · last {time(g.lastSeen)}
            {backAfterRetry(g)}
          </p>
          <p>
            <button type="button" disabled={busy} onClick={() => void act('retry', g.messages)}>
              Retry group ({g.count})
            </button>{' '}
            <button type="button" class="danger" disabled={busy} onClick={() => void act('delete', g.messages)}>
              Delete group
            </button>
          </p>
          <table>
            <thead>
              <tr>
                <th scope="col">select</th>
                <th scope="col">service</th>
                <th scope="col">order</th>
                <th scope="col">dead-lettered</th>
                <th scope="col" class="num">
                  attempts
                </th>
                <th scope="col" class="num">
                  retried
                </th>
                <th scope="col">message</th>
              </tr>
            </thead>
            <tbody>
              {g.messages.map((m) => (
                <tr key={keyOf(m)}>
                  <td>
                    <input type="checkbox" aria-label={`select ${m.messageType} ${m.id}`} checked={selected.has(keyOf(m))} onChange={() => toggle(m)} />
                  </td>
                  <td>{m.service}</td>
                  <td>
                    {m.orderId ? (
                      <a href={`#/orders/${m.orderId}`} class="mono">
                        {m.orderId.slice(0, 8)}
                      </a>
                    ) : (
                      '—'
                    )}
                  </td>
                  <td>{time(m.deadLetteredAt)}</td>
                  <td class="num attempts">{m.failure.attempts}</td>
                  <td class="num retries">{m.retries}</td>
                  <td>
                    <Details summary={`inspect ${m.id.slice(0, 8)}`}>
                      <h3>Failure</h3>
                      <p>
                        {m.failure.error} — {m.failure.attempts} attempts in {m.failure.deliveries} deliveries{retried(m.retries)}
                      </p>
                      {m.failure.stack && <pre class="json">{m.failure.stack}</pre>}
                      <h3>Headers</h3>
                      <Json value={m.headers} />
                      <h3>Body</h3>
                      <Json value={m.message} />
                      <p>
                        <button type="button" disabled={busy} onClick={() => void act('retry', [m])}>
                          Retry this one
                        </button>{' '}
                        <button type="button" class="danger" disabled={busy} onClick={() => void act('delete', [m])}>
                          Delete this one
                        </button>
                      </p>
                    </Details>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ))}
    </>
  );
}
