import Link from "next/link";
import { TokenReadsTable } from "@/app/_ui/token-reads-table";
import { Failed, TenantPicker } from "@/app/_ui/tenant-picker";
import { withTenant } from "@/web/guard";
import { dashboardView, tenantsForAdmin } from "@/web/view";

type SearchParams = Promise<Record<string, string | string[] | undefined>>;

/** Rows the page shows: the last few hours of a busy tenant, grouped per minute. */
const ROWS = 200;

const one = (value: string | string[] | undefined) => (typeof value === "string" && value !== "" ? value : undefined);

/** The audit of token reads: which reader (API key or library) read which channel's token, per minute. */
export default async function TokenReadsPage({ searchParams }: { searchParams: SearchParams }) {
  const params = await searchParams;
  const view = await dashboardView(params.tenant);
  if (!view.tenantId) return <TenantPicker tenants={await tenantsForAdmin(view.session)} />;
  const tenantId = view.tenantId;
  const channelId = one(params.channel);
  const input = { tenantId, limit: ROWS, ...(channelId && { channelId }) };
  const answer = await withTenant("audit", input, (refresca) => refresca.audit(input));

  /** This page for one channel (or, without one, for all), keeping an admin's tenant. */
  const href = (channel?: string) => {
    const query = new URLSearchParams();
    if (view.session.role === "admin") query.set("tenant", tenantId);
    if (channel) query.set("channel", channel);
    const text = query.toString();
    return text ? `/audit?${text}` : "/audit";
  };

  return (
    <>
      <div className="page-head">
        <h1>Token reads</h1>
        <p className="muted">
          {view.tenantName}
          {channelId && (
            <>
              {" "}
              · channel <code>{channelId}</code> · <Link href={href()}>all channels</Link>
            </>
          )}
        </p>
      </div>
      <section className="card">
        <p className="muted small">
          Every token handed out by <code>getAccessToken</code> (the library, or the REST API with a key holding{" "}
          <code>tokens:read</code>), counted per reader and minute, newest first; kept 90 days. Tokens themselves are never
          recorded.
        </p>
        {answer.success ? <TokenReadsTable reads={answer.reads} channelHref={href} /> : <Failed answer={answer} />}
      </section>
    </>
  );
}
