import { ago, utc } from "@/app/_ui/format";
import { Failed } from "@/app/_ui/tenant-picker";
import { WebhookActions, WebhookAdd, WebhookRedeliver } from "@/app/_ui/webhook-controls";
import { withTenant } from "@/web/guard";
import { dashboardView } from "@/web/view";

type SearchParams = Promise<Record<string, string | string[] | undefined>>;

/** The tenant's webhook endpoints, each with its delivery log of the last 7 days, "send a test event" and "redeliver". */
export default async function WebhooksPage({ searchParams }: { searchParams: SearchParams }) {
  const view = await dashboardView((await searchParams).tenant);
  if (!view.tenantId) return <p className="empty card">Pick a tenant to see its webhooks.</p>;
  const tenantId = view.tenantId;
  const answer = await withTenant("webhooks.list", { tenantId }, (refresca) => refresca.webhooks.list({ tenantId }));
  const logs = answer.success
    ? await Promise.all(
        answer.endpoints.map((endpoint) =>
          withTenant("webhooks.deliveries", { tenantId }, (refresca) => refresca.webhooks.deliveries({ tenantId, endpointId: endpoint.id, limit: 50 })),
        ),
      )
    : [];
  const now = Date.now();

  return (
    <>
      <div className="page-head">
        <h1>Webhooks</h1>
        <p className="muted">
          {view.tenantName} · signed events (Standard Webhooks) when a channel needs reconnecting, fails, expires or recovers
        </p>
      </div>

      <section className="card">
        <h2>New endpoint</h2>
        <WebhookAdd tenantId={tenantId} />
      </section>

      {!answer.success ? (
        <Failed answer={answer} />
      ) : answer.endpoints.length === 0 ? (
        <p className="empty card">No webhook endpoints yet.</p>
      ) : (
        answer.endpoints.map((endpoint, index) => {
          const log = logs[index];
          return (
            <section key={endpoint.id} className="card" data-endpoint-id={endpoint.id}>
              <h2>
                <code>{endpoint.url}</code>{" "}
                <span className={endpoint.enabled ? "badge ok" : "badge bad"}>{endpoint.enabled ? "Enabled" : "Disabled"}</span>
              </h2>
              {endpoint.disabledReason && (
                <p className="badge bad" role="alert" title={utc(endpoint.disabledAt)}>
                  {endpoint.disabledReason}
                </p>
              )}
              <p className="sub">
                <code>{endpoint.id}</code> · events: {endpoint.events.length > 0 ? endpoint.events.join(", ") : "all but channel.refreshed"}
                {endpoint.failingSince && <> · failing since {ago(endpoint.failingSince, now)}</>}
              </p>
              <WebhookActions tenantId={tenantId} endpointId={endpoint.id} enabled={endpoint.enabled} />
              {log && !log.success ? (
                <Failed answer={log} />
              ) : !log || log.deliveries.length === 0 ? (
                <p className="sub">No deliveries in the last 7 days.</p>
              ) : (
                <div className="table-wrap flush">
                  <table className="table" data-testid="webhook-deliveries">
                    <thead>
                      <tr>
                        <th>Event</th>
                        <th>State</th>
                        <th>Attempts</th>
                        <th>Answer</th>
                        <th>Duration</th>
                        <th>Created</th>
                        <th />
                      </tr>
                    </thead>
                    <tbody>
                      {log.deliveries.map((delivery) => (
                        <tr key={delivery.id}>
                          <td>
                            <div className="name">{delivery.type}</div>
                            <div className="sub">
                              <code>{delivery.eventId}</code>
                            </div>
                          </td>
                          <td>
                            <span className={delivery.state === "succeeded" ? "badge ok" : delivery.state === "failed" ? "badge bad" : "badge neutral"}>
                              {delivery.state}
                            </span>
                            {delivery.nextAttemptAt && <div className="sub">next {utc(delivery.nextAttemptAt)}</div>}
                          </td>
                          <td>{delivery.attempts}</td>
                          <td title={delivery.response ?? undefined}>
                            {delivery.lastStatus ?? "—"}
                            {delivery.error && <div className="sub">{delivery.error}</div>}
                          </td>
                          <td>{delivery.durationMs !== null ? `${delivery.durationMs} ms` : "—"}</td>
                          <td title={utc(delivery.createdAt)}>{ago(delivery.createdAt, now)}</td>
                          <td className="actions">
                            {delivery.state !== "sending" && <WebhookRedeliver tenantId={tenantId} endpointId={endpoint.id} deliveryId={delivery.id} />}
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
            </section>
          );
        })
      )}
      <p className="sub">
        Also from the command line: <code>npx refresca webhooks add --tenant {tenantId} --url https://…</code>. Deliveries are kept 7 days.
      </p>
    </>
  );
}
