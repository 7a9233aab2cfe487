import { useState } from 'preact/hooks';
import { api } from '../api';
import { Details, ErrorNote, Json, Status, time, useLoad } from '../components';

interface Saga {
  order: {
    orderId: string;
    customerId: string;
    status: string;
    cancellationReason: string | null;
    total: number;
    currency: string;
    createdAt: string;
    updatedAt: string;
    items: Array<{ sku: string; quantity: number; unitPrice: number }>;
    timeline: Array<{ type: string; source: string; at: string; messageId: string; note?: string }>;
  };
  payments: Array<{ paymentId: string; status: string; amount: number; refundedAmount: number; createdAt: string; updatedAt: string }>;
  reservations: Array<{ reservationId: string; status: string; createdAt: string; updatedAt: string }>;
  notifications: Array<{ outcome: string; status: string; to: string | null; createdAt: string; sentAt: string | null; attempts: number }> | null;
  archived: Array<{
    topic: string;
    partition: number;
    offset: string | number;
    event: Record<string, unknown> & { messageId: string; type: string; source: string; occurredAt: string };
  }> | null;
}

/** One line of the joined timeline: what happened, in which service, and where it came from. */
interface Step {
  at: string;
  service: string;
  what: string;
  note?: string;
  from: string;
  to: string;
  detail: unknown;
  /** Analytics archived this message (its headers and body are the archived envelope). */
  archived: boolean;
}

const LANES = ['client', 'order', 'payment', 'inventory', 'notification', 'analytics'] as const;
/** Who each message goes to (libs/contracts/src/topology.ts); answers go back to Order. */
const TO: Record<string, string> = {
  OrderPlaced: 'payment',
  PaymentAuthorized: 'inventory',
  RefundPayment: 'payment',
  ReleaseStock: 'inventory',
  CancelRequested: 'order',
  OrderConfirmed: 'notification',
  OrderCancelled: 'notification',
};

function steps(saga: Saga): Step[] {
  const out: Step[] = [];
  const archived = new Map((saga.archived ?? []).map((a) => [a.event.messageId, a]));
  for (const t of saga.order.timeline) {
    const from = t.type === 'CancelRequested' ? 'client' : t.source;
    const a = archived.get(t.messageId);
    out.push({
      at: t.at,
      service: 'order',
      what: t.type,
      ...(t.note ? { note: t.note } : {}),
      from,
      to: TO[t.type] ?? 'order',
      detail: a ? a.event : t,
      archived: !!a,
    });
  }
  for (const p of saga.payments) {
    out.push({ at: p.createdAt, service: 'payment', what: `payment ${p.status}`, from: 'payment', to: 'payment', detail: p, archived: false });
    if (p.refundedAmount > 0)
      out.push({
        at: p.updatedAt,
        service: 'payment',
        what: `refund ${p.refundedAmount.toFixed(2)}`,
        from: 'payment',
        to: 'payment',
        detail: p,
        archived: false,
      });
  }
  for (const r of saga.reservations) {
    out.push({ at: r.createdAt, service: 'inventory', what: `reservation ${r.status}`, from: 'inventory', to: 'inventory', detail: r, archived: false });
    if (r.status === 'RELEASED')
      out.push({ at: r.updatedAt, service: 'inventory', what: 'reservation released', from: 'inventory', to: 'inventory', detail: r, archived: false });
  }
  for (const n of saga.notifications ?? []) {
    out.push({
      at: n.sentAt ?? n.createdAt,
      service: 'notification',
      what: `email ${n.outcome.toLowerCase()} ${n.status}`,
      ...(n.to ? { note: `to ${n.to}, attempt ${n.attempts}` } : {}),
      from: 'order',
      to: 'notification',
      detail: n,
      archived: false,
    });
  }
  const seen = new Set(saga.order.timeline.map((t) => t.messageId));
  for (const a of saga.archived ?? []) {
    if (seen.has(a.event.messageId)) continue;
    out.push({
      at: a.event.occurredAt,
      service: 'analytics',
      what: `${a.event.type} archived`,
      note: `${a.topic} p${a.partition} @${a.offset}`,
      from: a.event.source,
      to: 'analytics',
      detail: a.event,
      archived: true,
    });
  }
  return out.sort((x, y) => x.at.localeCompare(y.at));
}

export function OrderPage({ id }: { id: string }) {
  const { data, error, reload } = useLoad(() => api<Saga>('GET', `/api/orders/${id}`), [id], 2000);
  const [confirming, setConfirming] = useState(false);
  const [cancelResult, setCancelResult] = useState<string | null>(null);
  const cancel = async () => {
    setConfirming(false);
    try {
      await api('POST', `/api/orders/${id}/cancel`);
      setCancelResult('Cancel requested.');
    } catch (err) {
      setCancelResult(`Not cancelled: ${(err as Error).message}`);
    }
    await reload();
  };
  const all = data ? steps(data) : [];
  return (
    <>
      <h1 tabIndex={-1}>
        Order <span class="mono">{id}</span>
      </h1>
      <ErrorNote error={error} />
      {data && (
        <>
          <dl class="facts">
            <dt>status</dt>
            <dd>
              <Status status={data.order.status} /> {data.order.cancellationReason ?? ''}
            </dd>
            <dt>customer</dt>
            <dd>
              <a href={`#/orders?customerId=${encodeURIComponent(data.order.customerId)}`}>{data.order.customerId}</a>
            </dd>
            <dt>total</dt>
            <dd>
              {data.order.total.toFixed(2)} {data.order.currency} ({data.order.items.map((i) => `${i.quantity} × ${i.sku}`).join(', ')})
            </dd>
            <dt>placed</dt>
            <dd>{time(data.order.createdAt)}</dd>
          </dl>
          <p>
            {confirming ? (
              <>
                <button type="button" class="danger" onClick={() => void cancel()}>
                  Yes, cancel this order
                </button>{' '}
                <button type="button" onClick={() => setConfirming(false)}>
                  Keep it
                </button>
              </>
            ) : (
              <button type="button" onClick={() => setConfirming(true)} disabled={data.order.status === 'CANCELLED' || data.order.status === 'CANCELLING'}>
                Cancel order…
              </button>
            )}
            {cancelResult && <span role="status"> {cancelResult}</span>}
          </p>
          <div class="two">
            <section aria-labelledby="timeline-h">
              <h2 id="timeline-h">Timeline across the services</h2>
              {data.archived === null && <p class="muted">The archive could not be read; Analytics' events are missing.</p>}
              <ol class="timeline">
                {all.map((s, i) => (
                  <li key={i} class={`svc-${s.service}`}>
                    <Details
                      summary={
                        <>
                          <time dateTime={s.at}>{time(s.at)}</time> <span class="svc">{s.service}</span> <strong>{s.what}</strong>
                          {s.note && <span class="muted"> — {s.note}</span>}
                          {s.archived && <span class="tag">archived</span>}
                        </>
                      }
                    >
                      <Json value={s.detail} />
                    </Details>
                  </li>
                ))}
              </ol>
            </section>
            <section aria-labelledby="sequence-h">
              <h2 id="sequence-h">Sequence</h2>
              <Sequence steps={all.filter((s) => s.service === 'order')} />
            </section>
          </div>
        </>
      )}
    </>
  );
}

/** The saga's messages between the services, drawn as a sequence diagram (SVG, no library). */
function Sequence({ steps }: { steps: Step[] }) {
  const laneX = (lane: string) => 70 + Math.max(0, LANES.indexOf(lane as (typeof LANES)[number])) * 130;
  const rowH = 34;
  const height = 50 + steps.length * rowH;
  return (
    <svg
      class="sequence"
      viewBox={`0 0 ${LANES.length * 130 + 20} ${height}`}
      role="img"
      aria-label={`Sequence diagram: ${steps.map((s) => `${s.what} from ${s.from} to ${s.to}`).join('; ')}`}
    >
      <defs>
        <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
          <path d="M 0 0 L 10 5 L 0 10 z" fill="currentColor" />
        </marker>
      </defs>
      {LANES.map((lane) => (
        <g key={lane}>
          <text x={laneX(lane)} y="18" text-anchor="middle" class="lane">
            {lane}
          </text>
          <line x1={laneX(lane)} x2={laneX(lane)} y1="26" y2={height} class="lifeline" />
        </g>
      ))}
      {steps.map((s, i) => {
        const y = 50 + i * rowH;
        const x1 = laneX(s.from);
        const x2 = laneX(s.to);
        return (
          <g key={i}>
            {x1 === x2 ? (
              <path d={`M ${x1} ${y - 6} h 30 v 12 h -30`} class="msg" fill="none" marker-end="url(#arrow)" />
            ) : (
              <line x1={x1} x2={x2} y1={y} y2={y} class="msg" marker-end="url(#arrow)" />
            )}
            <text x={(x1 + x2) / 2 + (x1 === x2 ? 36 : 0)} y={y - 5} text-anchor={x1 === x2 ? 'start' : 'middle'} class="msg-label">
              {s.what}
            </text>
          </g>
        );
      })}
    </svg>
  );
}
