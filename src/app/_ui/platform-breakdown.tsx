import Link from "next/link";
import type { PlatformBreakdownRow } from "@/core/dashboard";
import { PlatformBadge } from "./platform-badge";

/** The tenant's channels per platform (built-in, preset or configured alike), each row linking to its filtered list. */
export function PlatformBreakdown({ platforms, tenantQuery }: { platforms: PlatformBreakdownRow[]; tenantQuery: string }) {
  if (platforms.length === 0) return <p className="empty">No channels yet.</p>;
  const listOf = (id: string) => `/channels?${[tenantQuery, `platform=${encodeURIComponent(id)}`].filter(Boolean).join("&")}`;
  const count = (n: number, tone: string) => (n > 0 ? <span className={tone}>{n}</span> : <span className="muted">0</span>);
  return (
    <div className="table-wrap">
      <table className="table compact" data-testid="platforms">
        <thead>
          <tr>
            <th>Platform</th>
            <th>Channels</th>
            <th>Need reconnecting</th>
            <th>Failing</th>
            <th>Expired</th>
          </tr>
        </thead>
        <tbody>
          {platforms.map((platform) => (
            <tr key={platform.id} data-platform-row={platform.id}>
              <td>
                <Link href={listOf(platform.id)}>
                  <PlatformBadge id={platform.id} label={platform.displayName} color={platform.color} />
                </Link>
                {!platform.configured && <div className="sub">not configured: its channels are not refreshed</div>}
              </td>
              <td data-count="channels">{platform.channels}</td>
              <td data-count="needsReauth">{count(platform.needsReauth, "code-bad")}</td>
              <td data-count="failing">{count(platform.failing, "code-bad")}</td>
              <td data-count="expired">{count(platform.expired, "code-bad")}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
