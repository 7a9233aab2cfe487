import { useState } from 'preact/hooks';
import { api, query } from '../api';
import { ErrorNote, Status, time, useLoad } from '../components';

interface OrderRow {
  orderId: string;
  customerId: string;
  status: string;
  total: number;
  currency: string;
  createdAt: string;
}

const STATUSES = ['', 'PENDING', 'CANCELLING', 'CONFIRMED', 'CANCELLED'];

/** Search by id, customer, status and time; the search is in the URL, so it can be shared. */
export function OrdersPage({ params }: { params: URLSearchParams }) {
  const [form, setForm] = useState({
    id: params.get('id') ?? '',
    customerId: params.get('customerId') ?? '',
    status: params.get('status') ?? '',
    from: params.get('from') ?? '',
    to: params.get('to') ?? '',
  });
  const asked = params.toString();
  const { data, error } = useLoad(
    () =>
      api<{ items: OrderRow[] }>(
        'GET',
        `/api/orders${query({
          id: params.get('id') ?? undefined,
          customerId: params.get('customerId') ?? undefined,
          status: params.get('status') ?? undefined,
          from: params.get('from') ? new Date(params.get('from')!).toISOString() : undefined,
          to: params.get('to') ? new Date(params.get('to')!).toISOString() : undefined,
        })}`,
      ),
    [asked],
  );
  const set = (k: keyof typeof form) => (e: Event) => setForm({ ...form, [k]: (e.currentTarget as HTMLInputElement).value });
  const submit = (e: Event) => {
    e.preventDefault();
    location.hash = `#/orders${query(form)}`;
  };
  return (
    <>
      <h1 tabIndex={-1}>Orders</h1>
      <form class="search" role="search" onSubmit={submit}>
        <label>
          Order id
          <input name="id" value={form.id} onInput={set('id')} placeholder="UUID" size={38} />
        </label>
        <label>
          Customer
          <input name="customerId" value={form.customerId} onInput={set('customerId')} />
        </label>
        <label>
          Status
          <select name="status" value={form.status} onChange={set('status')}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s || 'any'}
              </option>
            ))}
          </select>
        </label>
        <label>
          From
          <input type="datetime-local" name="from" value={form.from} onInput={set('from')} />
        </label>
        <label>
          To
          <input type="datetime-local" name="to" value={form.to} onInput={set('to')} />
        </label>
        <button type="submit">Search</button>
      </form>
      <ErrorNote error={error} />
      {data && (
        <table class="orders">
          <caption>{data.items.length ? `${data.items.length} orders, newest first` : 'No orders found'}</caption>
          <thead>
            <tr>
              <th scope="col">order</th>
              <th scope="col">customer</th>
              <th scope="col">status</th>
              <th scope="col" class="num">
                total
              </th>
              <th scope="col">placed</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((o) => (
              <tr key={o.orderId}>
                <td>
                  <a href={`#/orders/${o.orderId}`} class="mono">
                    {o.orderId}
                  </a>
                </td>
                <td>{o.customerId}</td>
                <td>
                  <Status status={o.status} />
                </td>
                <td class="num">
                  {o.total.toFixed(2)} {o.currency}
                </td>
                <td>{time(o.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
