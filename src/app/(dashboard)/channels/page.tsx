import Link from "next/link";
import { expiresIn, ago, STATUS_LABELS, urgency, utc } from "@/app/_ui/format";
import { PlatformBadge } from "@/app/_ui/platform-badge";
import { RefreshNow } from "@/app/_ui/refresh-now";
import { ScheduleLater } from "@/app/_ui/schedule-later";
import { Failed, TenantPicker } from "@/app/_ui/tenant-picker";
import { CHANNEL_LIST_SORTS, PLATFORM_ID, type ChannelListSort } from "@/core/dashboard";
import { withTenant } from "@/web/guard";
import { dashboardView, instancePlatforms, tenantsForAdmin } from "@/web/view";

type SearchParams = Promise<Record<string, string | string[] | undefined>>;
const STATUSES = ["active", "needs_reauth", "disabled"] as const;
type Status = (typeof STATUSES)[number];

const one = (value: string | string[] | undefined) => (typeof value === "string" ? value : undefined);
const oneOf = <T extends string>(values: readonly T[], value: string | undefined): T | undefined =>
  values.find((candidate) => candidate === value);

const COLUMNS: Array<{ label: string; sort?: ChannelListSort; className?: string }> = [
  { label: "Channel", sort: "displayName" },
  { label: "Platform", sort: "type" },
  { label: "Expires", sort: "expiresAt" },
  { label: "Refresh token" },
  { label: "Status", sort: "status" },
  { label: "Last refresh" },
  { label: "Failing since" },
  { label: "" },
];

export default async function ChannelsPage({ searchParams }: { searchParams: SearchParams }) {
  const params = await searchParams;
  const view = await dashboardView(params.tenant);
  if (!view.tenantId) return <TenantPicker tenants={await tenantsForAdmin(view.session)} />;
  const tenantId = view.tenantId;
  const platforms = await instancePlatforms();
  const labelOf = new Map(platforms.map((platform) => [platform.id, platform.displayName]));
  const colorOf = new Map(platforms.map((platform) => [platform.id, platform.color]));

  const filters = {
    search: one(params.q)?.trim() || undefined,
    // A type the instance does not refresh (a provider since removed) may still be filtered on, from its badge's link.
    type: PLATFORM_ID.test(one(params.platform) ?? "") ? one(params.platform) : undefined,
    status: oneOf<Status>(STATUSES, one(params.status)),
    sort: oneOf<ChannelListSort>(CHANNEL_LIST_SORTS, one(params.sort)) ?? "expiresAt",
    direction: one(params.dir) === "desc" ? ("desc" as const) : ("asc" as const),
    page: Math.max(1, Math.min(100_000, Number.parseInt(one(params.page) ?? "1", 10) || 1)),
  };
  const input = {
    tenantId,
    sort: filters.sort,
    direction: filters.direction,
    page: filters.page,
    ...(filters.search && { search: filters.search }),
    ...(filters.type && { type: filters.type }),
    ...(filters.status && { status: filters.status }),
  };
  const answer = await withTenant("dashboard.listChannels", input, (refresca) => refresca.dashboard.listChannels(input));
  const now = Date.now();

  /** This page's URL with some parameters changed (filters, sort and tenant are kept). */
  const href = (change: Record<string, string | undefined>) => {
    const query = new URLSearchParams();
    const merged: Record<string, string | undefined> = {
      tenant: view.session.role === "admin" ? tenantId : undefined,
      q: filters.search,
      platform: filters.type,
      status: filters.status,
      sort: filters.sort === "expiresAt" ? undefined : filters.sort,
      dir: filters.direction === "asc" ? undefined : filters.direction,
      page: filters.page > 1 ? String(filters.page) : undefined,
      ...change,
    };
    for (const [key, value] of Object.entries(merged)) if (value !== undefined) query.set(key, value);
    const text = query.toString();
    return text ? `/channels?${text}` : "/channels";
  };
  const filtered = Boolean(filters.search || filters.type || filters.status);
  /** The audit of one channel's token reads. */
  const readsHref = (channelId: string) =>
    `/audit?${new URLSearchParams({ ...(view.session.role === "admin" && { tenant: tenantId }), channel: channelId })}`;

  return (
    <>
      <div className="page-head">
        <h1>Channels</h1>
        <p className="muted">
          {view.tenantName} · {answer.success ? `${answer.total} ${filtered ? "matching" : "in all"}` : ""}
        </p>
      </div>

      <form method="get" className="filters card" role="search">
        {view.session.role === "admin" && <input type="hidden" name="tenant" value={tenantId} />}
        {filters.sort !== "expiresAt" && <input type="hidden" name="sort" value={filters.sort} />}
        {filters.direction === "desc" && <input type="hidden" name="dir" value="desc" />}
        <input type="search" name="q" defaultValue={filters.search ?? ""} placeholder="Search name, handle or id" aria-label="Search" maxLength={100} />
        <select name="platform" defaultValue={filters.type ?? ""} aria-label="Platform">
          <option value="">All platforms</option>
          {platforms.map((platform) => (
            <option key={platform.id} value={platform.id}>
              {platform.displayName}
            </option>
          ))}
          {filters.type && !labelOf.has(filters.type) && <option value={filters.type}>{filters.type} (not configured)</option>}
        </select>
        <select name="status" defaultValue={filters.status ?? ""} aria-label="Status">
          <option value="">Any status</option>
          {STATUSES.map((status) => (
            <option key={status} value={status}>
              {STATUS_LABELS[status]}
            </option>
          ))}
        </select>
        <button type="submit" className="button small">
          Filter
        </button>
        {filtered && (
          <Link href={href({ q: undefined, platform: undefined, status: undefined, page: undefined })} className="muted">
            Clear
          </Link>
        )}
      </form>

      {!answer.success ? (
        <Failed answer={answer} />
      ) : answer.total === 0 ? (
        <p className="empty card">
          {filtered ? (
            "No channel matches these filters."
          ) : (
            <>
              This tenant has no channels yet. Add them with <code>refresca.channels.upsert(…)</code> from your app, or{" "}
              <code>npx refresca channels import channels.json</code>.
            </>
          )}
        </p>
      ) : (
        <>
          <div className="table-wrap card flush">
            <table className="table" data-testid="channels">
              <thead>
                <tr>
                  {COLUMNS.map((column) => {
                    if (!column.sort) return <th key={column.label}>{column.label}</th>;
                    const current = filters.sort === column.sort;
                    const direction = current && filters.direction === "asc" ? "desc" : "asc";
                    return (
                      <th key={column.label} aria-sort={current ? (filters.direction === "asc" ? "ascending" : "descending") : undefined}>
                        <Link href={href({ sort: column.sort === "expiresAt" ? undefined : column.sort, dir: direction === "asc" ? undefined : "desc", page: undefined })} className="sort">
                          {column.label} <span aria-hidden>{current ? (filters.direction === "asc" ? "▲" : "▼") : "↕"}</span>
                        </Link>
                      </th>
                    );
                  })}
                </tr>
              </thead>
              <tbody>
                {answer.channels.map((channel) => (
                  <tr key={channel.id} data-channel-id={channel.id}>
                    <td>
                      <div className="name">{channel.displayName}</div>
                      <div className="sub">
                        {channel.localName && <>{channel.localName} · </>}
                        <code>{channel.id}</code> · <Link href={readsHref(channel.id)}>token reads</Link>
                      </div>
                    </td>
                    <td>
                      <PlatformBadge id={channel.type} label={labelOf.get(channel.type) ?? channel.type} color={colorOf.get(channel.type)} />
                    </td>
                    <td className={`expiry ${urgency(channel.expiresAt, now)}`} title={utc(channel.expiresAt)} data-expires-at={channel.expiresAt ?? "never"}>
                      {expiresIn(channel.expiresAt, now)}
                    </td>
                    <td>{channel.hasRefreshToken ? "yes" : <span className="muted">no</span>}</td>
                    <td>
                      <span className={`badge status-${channel.status}`}>{STATUS_LABELS[channel.status]}</span>
                    </td>
                    <td>
                      {channel.lastErrorCode ? (
                        <code className="code-bad">{channel.lastErrorCode}</code>
                      ) : channel.lastOutcome ? (
                        <span className="ok-text">{channel.lastOutcome}</span>
                      ) : (
                        <span className="muted">never refreshed</span>
                      )}
                      {channel.lastAttemptAt && <div className="sub">{ago(channel.lastAttemptAt, now)}</div>}
                    </td>
                    <td data-failing-since={channel.failingSince ?? ""}>
                      {channel.failingSince ? (
                        <>
                          <span className="code-bad" title={utc(channel.failingSince)}>
                            {ago(channel.failingSince, now)}
                          </span>
                          <div className="sub">
                            {channel.failureCount} failed attempt{channel.failureCount === 1 ? "" : "s"}
                          </div>
                        </>
                      ) : (
                        <span className="muted">—</span>
                      )}
                    </td>
                    <td className="actions">
                      <RefreshNow tenantId={tenantId} channelId={channel.id} />
                      <ScheduleLater tenantId={tenantId} channelId={channel.id} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <nav className="pager" aria-label="Pages">
            {answer.page > 1 ? <Link href={href({ page: String(answer.page - 1) })}>← Previous</Link> : <span className="muted">← Previous</span>}
            <span>
              Page {answer.page} of {answer.pageCount} · {answer.total} channels
            </span>
            {answer.page < answer.pageCount ? <Link href={href({ page: String(answer.page + 1) })}>Next →</Link> : <span className="muted">Next →</span>}
          </nav>
        </>
      )}
    </>
  );
}
