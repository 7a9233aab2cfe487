import { api } from '../api';
import { ErrorNote, time, useLoad } from '../components';

interface Entry {
  at: string;
  actor: string;
  action: string;
  target: string;
  result: string;
  detail?: string;
}

export function AuditPage() {
  const { data, error } = useLoad(() => api<{ items: Entry[] }>('GET', '/api/audit'), [], 5000);
  return (
    <>
      <h1 tabIndex={-1}>Audit log</h1>
      <p class="muted">Every sign-in and action taken in the console, newest first (kept in .data/console-audit.log).</p>
      <ErrorNote error={error} />
      {data && (
        <table class="audit">
          <thead>
            <tr>
              <th scope="col">when</th>
              <th scope="col">who</th>
              <th scope="col">action</th>
              <th scope="col">what</th>
              <th scope="col">result</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((e, i) => (
              <tr key={i}>
                <td>{time(e.at)}</td>
                <td>{e.actor}</td>
                <td>{e.action}</td>
                <td>{e.target}</td>
                <td>
                  {e.result}
                  {e.detail && <span class="muted"> — {e.detail}</span>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
