import { ApiKeyCreate } from "@/app/_ui/api-key-create";
import { ApiKeyRevoke } from "@/app/_ui/api-key-revoke";
import { ago, utc } from "@/app/_ui/format";
import { Failed } from "@/app/_ui/tenant-picker";
import { ALL_TENANTS, dashboardApiKeys } from "@/web/api-key-access";
import { withTenant } from "@/web/guard";
import { dashboardView, tenantsForAdmin } from "@/web/view";

type SearchParams = Promise<Record<string, string | string[] | undefined>>;

/** The REST API's keys: a tenant sees and manages its own; an admin every key, including all-tenant ones. */
export default async function ApiKeysPage({ searchParams }: { searchParams: SearchParams }) {
  const view = await dashboardView((await searchParams).tenant);
  const admin = view.session.role === "admin";
  // What the actions act for: a tenant session its own tenant; an admin every tenant (the wrapper allows "*" to admins only).
  const scope = view.session.role === "tenant" ? view.session.tenantId : ALL_TENANTS;
  const input = { tenantId: scope };
  const answer = await withTenant("apiKeys.list", input, (refresca) => dashboardApiKeys(refresca).list(input));
  const targets = admin
    ? [
        { value: ALL_TENANTS, label: "All tenants" },
        ...(await tenantsForAdmin(view.session)).map((tenant) => ({ value: tenant.id, label: `Only ${tenant.name}` })),
      ]
    : [{ value: scope, label: view.tenantName }];
  const now = Date.now();

  return (
    <>
      <div className="page-head">
        <h1>API keys</h1>
        <p className="muted">
          {admin ? "Every tenant's keys" : view.tenantName} · for the REST API under <code>/api/v1</code>, sent as{" "}
          <code>Authorization: Bearer rka_…</code>
        </p>
      </div>

      <section className="card">
        <h2>New key</h2>
        <ApiKeyCreate targets={targets} initialTarget={admin && view.tenantId ? view.tenantId : scope} />
      </section>

      {!answer.success ? (
        <Failed answer={answer} />
      ) : answer.keys.length === 0 ? (
        <p className="empty card">No API keys yet.</p>
      ) : (
        <div className="table-wrap card flush">
          <table className="table" data-testid="api-keys">
            <thead>
              <tr>
                <th>Key</th>
                <th>Scopes</th>
                <th>Tenant</th>
                <th>Created</th>
                <th>Last used</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {answer.keys.map((key) => (
                <tr key={key.id} data-key-id={key.id}>
                  <td>
                    <div className="name">{key.name}</div>
                    <div className="sub">
                      <code>{key.id}</code>
                    </div>
                  </td>
                  <td>
                    {key.scopes.map((name) => (
                      <span key={name}>
                        <span className={name === "tokens:read" ? "badge bad" : "badge neutral"}>{name}</span>{" "}
                      </span>
                    ))}
                  </td>
                  <td>{key.tenantId === null ? <span className="badge ok">All tenants</span> : <code>{key.tenantId}</code>}</td>
                  <td title={utc(key.createdAt)}>{ago(key.createdAt, now)}</td>
                  <td title={utc(key.lastUsedAt)}>{key.lastUsedAt ? ago(key.lastUsedAt, now) : <span className="muted">never</span>}</td>
                  <td className="actions">
                    {key.revokedAt ? (
                      <span className="badge neutral" title={utc(key.revokedAt)}>
                        Revoked
                      </span>
                    ) : (
                      <ApiKeyRevoke tenantId={scope} id={key.id} name={key.name} />
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <p className="sub">Last use is recorded about once a minute. Keys are also made from the command line: <code>npx refresca api-keys create --name …</code>.</p>
    </>
  );
}
