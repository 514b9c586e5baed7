// Formatting shared by server and client components. Times are shown in UTC so that the server's render and the
// browser's agree.

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

function span(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < MINUTE) return `${Math.round(abs / 1000)} s`;
  if (abs < HOUR) return `${Math.floor(abs / MINUTE)} min`;
  if (abs < DAY) {
    const hours = Math.floor(abs / HOUR);
    const minutes = Math.floor((abs % HOUR) / MINUTE);
    return minutes ? `${hours} h ${minutes} min` : `${hours} h`;
  }
  const days = Math.floor(abs / DAY);
  const hours = Math.floor((abs % DAY) / HOUR);
  return days < 3 && hours ? `${days} d ${hours} h` : `${days} days`;
}

/** "in 3 h 12 min", "expired 10 min ago", "never". */
export function expiresIn(iso: string | null, now: number): string {
  if (iso === null) return "never";
  const ms = new Date(iso).getTime() - now;
  return ms >= 0 ? `in ${span(ms)}` : `expired ${span(ms)} ago`;
}

/** "3 min ago". */
export function ago(iso: string, now: number): string {
  return `${span(now - new Date(iso).getTime())} ago`;
}

/** "2026-11-27 14:05 UTC". */
export function utc(iso: string | null): string {
  if (iso === null) return "—";
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** "14:05:09". */
export function clock(iso: string): string {
  return iso.slice(11, 19);
}

/** How urgent an expiry is, for colouring. */
export function urgency(iso: string | null, now: number): "expired" | "urgent" | "soon" | "ok" | "never" {
  if (iso === null) return "never";
  const ms = new Date(iso).getTime() - now;
  if (ms <= 0) return "expired";
  if (ms < HOUR) return "urgent";
  if (ms < DAY) return "soon";
  return "ok";
}

/**
 * A hue for the dot of a channel type without a brand colour (a preset, a configured provider): steady, from its id,
 * so that its badge looks the same on every page.
 */
export function platformHue(id: string): number {
  let hash = 0;
  for (const char of id) hash = (hash * 31 + char.charCodeAt(0)) % 360;
  return hash;
}

export const STATUS_LABELS: Record<string, string> = {
  active: "Active",
  needs_reauth: "Needs reconnecting",
  disabled: "Disabled",
};
