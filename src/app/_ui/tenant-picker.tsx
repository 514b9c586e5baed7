import Link from "next/link";

/** An admin's list of tenants to look at. */
export function TenantPicker({ tenants }: { tenants: Array<{ id: string; name: string }> }) {
  return (
    <section className="card">
      <h2>Pick a tenant</h2>
      {tenants.length === 0 ? (
        <p className="empty">
          There are no tenants yet. Create one with <code>npx refresca tenants create &lt;tenantId&gt;</code>.
        </p>
      ) : (
        <ul className="tenant-list">
          {tenants.map((tenant) => (
            <li key={tenant.id}>
              <Link href={`/?tenant=${encodeURIComponent(tenant.id)}`}>{tenant.name}</Link>{" "}
              {tenant.name !== tenant.id && <code className="muted">{tenant.id}</code>}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** The one sentence of a failed answer, where a section's data would be. */
export function Failed({ answer }: { answer: { error: string; code: string } }) {
  return (
    <p role="alert" className="note error">
      {answer.error} <span className="muted">({answer.code})</span>
    </p>
  );
}
