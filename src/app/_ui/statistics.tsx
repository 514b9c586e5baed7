import type { RefreshStatistics as Statistics } from "@/core/operations";

export type { Statistics };

const CARDS: Array<{ key: keyof Statistics; label: string; hint: string; tone?: (n: number) => string }> = [
  { key: "totalChannels", label: "Channels", hint: "connected to this tenant" },
  { key: "channelsNeedingRefresh", label: "Need a refresh", hint: "expire within 60 min, or expired", tone: (n) => (n > 0 ? "warn" : "") },
  { key: "urgentChannels", label: "Urgent", hint: "expire within 60 min", tone: (n) => (n > 0 ? "warn" : "") },
  { key: "expiredChannels", label: "Expired", hint: "tokens past their expiry", tone: (n) => (n > 0 ? "bad" : "") },
  { key: "needsReauth", label: "Need reconnecting", hint: "the platform refused them", tone: (n) => (n > 0 ? "bad" : "") },
  { key: "channelsWithRefreshToken", label: "Refreshable", hint: "hold what their platform's refresh needs" },
];

/** The tenant's figures from getRefreshStatistics, one card each. */
export function StatisticsCards({ statistics }: { statistics: Statistics }) {
  return (
    <section className="cards" aria-label="Statistics">
      {CARDS.map((card) => (
        <div key={card.key} className={`card stat ${card.tone?.(statistics[card.key]) ?? ""}`} data-stat={card.key}>
          <div className="stat-value">{statistics[card.key]}</div>
          <div className="stat-label">{card.label}</div>
          <div className="stat-hint">{card.hint}</div>
        </div>
      ))}
    </section>
  );
}
