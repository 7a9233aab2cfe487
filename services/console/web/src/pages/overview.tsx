import { useRef } from 'preact/hooks';
import { api } from '../api';
import { ErrorNote, useLoad } from '../components';

interface Overview {
  at: string;
  ordersCompleted: Record<string, number>;
  ordersPlaced: number;
  cancellationsByReason: Record<string, number>;
  sagaDurationSeconds: { p50: number | null; p95: number | null; p99: number | null };
  openSagas: Record<string, number>;
  services: Array<{ service: string; up: boolean; messagesHandled: number | null; outboxBacklog: Record<string, number> | null; deadLetters: number | null }>;
}

const seconds = (s: number | null) => (s === null ? '—' : s < 1 ? `${Math.round(s * 1000)} ms` : `${s.toFixed(2)} s`);
const total = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

/** Refreshes every 3 s; throughput is the change between two reads. */
export function OverviewPage() {
  const previous = useRef<Overview | null>(null);
  const rate = useRef<{ placed: number; completed: number } | null>(null);
  const { data, error } = useLoad(
    async () => {
      const next = await api<Overview>('GET', '/api/overview');
      const prev = previous.current;
      if (prev) {
        const dt = (Date.parse(next.at) - Date.parse(prev.at)) / 1000;
        if (dt > 0)
          rate.current = {
            placed: (next.ordersPlaced - prev.ordersPlaced) / dt,
            completed: (total(next.ordersCompleted) - total(prev.ordersCompleted)) / dt,
          };
      }
      previous.current = next;
      return next;
    },
    [],
    3000,
  );
  return (
    <>
      <h1 tabIndex={-1}>Overview</h1>
      <ErrorNote error={error} />
      {data && (
        <>
          <p class="muted" aria-live="polite">
            Read from the services' /metrics at {new Date(data.at).toLocaleTimeString(undefined, { hour12: false })}; refreshes every 3 s.
          </p>
          <section class="cards" aria-label="Saga figures">
            <Card label="Orders placed / s" value={rate.current ? rate.current.placed.toFixed(2) : '…'} />
            <Card label="Sagas ended / s" value={rate.current ? rate.current.completed.toFixed(2) : '…'} />
            <Card
              label="Open sagas"
              value={String(total(data.openSagas))}
              note={Object.entries(data.openSagas)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ')}
            />
            <Card label="Saga duration p50" value={seconds(data.sagaDurationSeconds.p50)} />
            <Card label="p95" value={seconds(data.sagaDurationSeconds.p95)} />
            <Card label="p99" value={seconds(data.sagaDurationSeconds.p99)} />
          </section>
          <div class="two">
            <section>
              <h2>Outcomes</h2>
              <table>
                <thead>
                  <tr>
                    <th scope="col">outcome / reason</th>
                    <th scope="col" class="num">
                      orders
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {Object.entries(data.ordersCompleted).map(([k, v]) => (
                    <tr key={k}>
                      <th scope="row">{k}</th>
                      <td class="num">{v}</td>
                    </tr>
                  ))}
                  {Object.entries(data.cancellationsByReason).map(([k, v]) => (
                    <tr key={k}>
                      <th scope="row">cancelled: {k}</th>
                      <td class="num">{v}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
            <section>
              <h2>Services</h2>
              <table>
                <thead>
                  <tr>
                    <th scope="col">service</th>
                    <th scope="col">up</th>
                    <th scope="col" class="num">
                      handled
                    </th>
                    <th scope="col" class="num">
                      outbox backlog
                    </th>
                    <th scope="col" class="num">
                      dead letters
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {data.services.map((s) => (
                    <tr key={s.service}>
                      <th scope="row">{s.service}</th>
                      <td>{s.up ? 'yes' : 'NO'}</td>
                      <td class="num">{s.messagesHandled ?? '—'}</td>
                      <td class="num">
                        {s.outboxBacklog
                          ? Object.entries(s.outboxBacklog)
                              .map(([k, v]) => `${k} ${v}`)
                              .join(', ')
                          : '—'}
                      </td>
                      <td class="num">{s.deadLetters ? <a href="#/failed">{s.deadLetters}</a> : (s.deadLetters ?? '—')}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          </div>
        </>
      )}
    </>
  );
}

function Card({ label, value, note }: { label: string; value: string; note?: string }) {
  return (
    <div class="card">
      <div class="card-label">{label}</div>
      <div class="card-value">{value}</div>
      {note && <div class="muted">{note}</div>}
    </div>
  );
}
