import Link from "next/link";
import type { TokenReadView } from "@/core/audit/operations";
import { clock } from "./format";

/** Who read which channel's token, per minute: the audit of token reads (counts, never tokens). */
export function TokenReadsTable({ reads, channelHref }: { reads: TokenReadView[]; channelHref: (channelId: string) => string }) {
  if (reads.length === 0) {
    return (
      <p className="empty">
        No token has been read yet. Reads through <code>getAccessToken</code> appear here within seconds.
      </p>
    );
  }
  return (
    <div className="table-wrap">
      <table className="table compact" data-testid="token-reads">
        <thead>
          <tr>
            <th>Minute (UTC)</th>
            <th>Channel</th>
            <th>Reader</th>
            <th className="num">Reads</th>
            <th className="num">Refreshed first</th>
          </tr>
        </thead>
        <tbody>
          {reads.map((read) => (
            <tr key={`${read.minute} ${read.channelId} ${read.reader}`}>
              <td title={read.minute}>
                {read.minute.slice(0, 10)} {clock(read.minute).slice(0, 5)}
              </td>
              <td>
                <Link href={channelHref(read.channelId)}>
                  <code>{read.channelId}</code>
                </Link>
              </td>
              <td>{read.reader === "library" ? <span className="muted">library</span> : <code>{read.reader}</code>}</td>
              <td className="num">{read.reads}</td>
              <td className="num">{read.refreshed > 0 ? read.refreshed : <span className="muted">0</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
