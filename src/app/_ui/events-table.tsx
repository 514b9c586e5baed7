import { clock, utc } from "./format";

export interface EventRow {
  id: number;
  channelId: string;
  trigger: string;
  attempt: number;
  outcome: string;
  errorCode: string | null;
  errorMessage: string | null;
  httpStatus: number | null;
  durationMs: number;
  newExpiresAt: string | null;
  createdAt: string;
}

/** The latest refresh attempts with their outcome and error code: the debugging record. */
export function EventsTable({ events }: { events: EventRow[] }) {
  if (events.length === 0) {
    return <p className="empty">No refresh has run yet. Refresh a channel, or wait for the worker.</p>;
  }
  return (
    <div className="table-wrap">
      <table className="table compact" data-testid="events">
        <thead>
          <tr>
            <th>When (UTC)</th>
            <th>Channel</th>
            <th>Trigger</th>
            <th>Outcome</th>
            <th>Error code</th>
            <th className="num">HTTP</th>
            <th className="num">Took</th>
            <th>New expiry</th>
          </tr>
        </thead>
        <tbody>
          {events.map((event) => (
            <tr key={event.id}>
              <td title={event.createdAt}>
                {event.createdAt.slice(5, 10)} {clock(event.createdAt)}
              </td>
              <td>
                <code>{event.channelId}</code>
              </td>
              <td>
                {event.trigger}
                {event.attempt > 1 && <span className="muted"> · try {event.attempt}</span>}
              </td>
              <td>
                <span className={`badge ${event.outcome === "success" ? "ok" : "bad"}`}>{event.outcome}</span>
              </td>
              <td title={event.errorMessage ?? undefined}>{event.errorCode ? <code className="code-bad">{event.errorCode}</code> : "—"}</td>
              <td className="num">{event.httpStatus ?? "—"}</td>
              <td className="num">{event.durationMs} ms</td>
              <td>{utc(event.newExpiresAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
