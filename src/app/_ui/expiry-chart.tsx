import type { ExpiryHorizon } from "@/core/dashboard";

const BARS: Array<{ key: keyof ExpiryHorizon; label: string; tone: string }> = [
  { key: "expired", label: "Expired", tone: "bad" },
  { key: "within1h", label: "≤ 1 hour", tone: "warn" },
  { key: "within24h", label: "≤ 24 hours", tone: "soon" },
  { key: "within7d", label: "≤ 7 days", tone: "ok" },
  { key: "within30d", label: "≤ 30 days", tone: "ok" },
];

/** How many tokens expire within 1 h, 24 h, 7 d and 30 d (each bar counts everything sooner too). */
export function ExpiryChart({ horizon, total }: { horizon: ExpiryHorizon; total: number }) {
  const max = Math.max(1, ...BARS.map((bar) => horizon[bar.key]));
  return (
    <div>
      <ul className="bars" aria-label="Tokens by time to expiry">
        {BARS.map((bar) => {
          const value = horizon[bar.key];
          return (
            <li key={bar.key} className="bar-row" data-bar={bar.key}>
              <span className="bar-label">{bar.label}</span>
              <span className="bar-track">
                <span className={`bar-fill ${bar.tone}`} style={{ width: `${(value / max) * 100}%` }} />
              </span>
              <span className="bar-value">{value}</span>
            </li>
          );
        })}
      </ul>
      <p className="muted small">
        {total - horizon.expired - horizon.within30d - horizon.neverExpires} expire later than 30 days;{" "}
        {horizon.neverExpires} never expire.
      </p>
    </div>
  );
}
