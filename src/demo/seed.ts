import type { ChannelInput } from "../core/validation";
import type { SimPlatform, SimulatorControl } from "../simulator";

const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

interface PlannedChannel {
  id: string;
  platform: SimPlatform;
  name: string;
  local: string;
  /** Seconds until the access token expires (negative: expired); null: never expires. */
  expiresIn: number | null;
  /** When the account was connected (Instagram and Threads refuse to refresh tokens younger than 24 h). @defaultValue 2 days ago */
  connectedAgo?: number;
  /** The platform revoked the grant: the next refresh is refused (INVALID_CREDENTIALS). */
  revoked?: boolean;
}

/** Every built-in platform, expiries from already expired to 60 days; the TikTok tokens expire within minutes. */
const PLAN: PlannedChannel[] = [
  { id: "tiktok-shop", platform: "tiktok", name: "TikTok · Shop", local: "@demo.shop", expiresIn: 3 * MINUTE },
  { id: "tiktok-brand", platform: "tiktok", name: "TikTok · Brand", local: "@demo.brand", expiresIn: 7 * MINUTE },
  { id: "tiktok-live", platform: "tiktok", name: "TikTok · Live", local: "@demo.live", expiresIn: 12 * MINUTE },
  { id: "tiktok-expired", platform: "tiktok", name: "TikTok · Old campaign", local: "@demo.old", expiresIn: -10 * MINUTE },
  // Expired a minute ago, so its own plan makes it due at once (a token with minutes left is planned a quarter of its
  // life ahead, not at once): the first refresh is refused, and the demo's webhook receiver shows
  // channel.needs_reauth within seconds of the start, whatever the recurring sweep's timing.
  { id: "tiktok-revoked", platform: "tiktok", name: "TikTok · Revoked", local: "@demo.revoked", expiresIn: -1 * MINUTE, revoked: true },
  { id: "instagram-main", platform: "instagram", name: "Instagram · Main", local: "@demo", expiresIn: 25 * MINUTE },
  { id: "instagram-new", platform: "instagram", name: "Instagram · New shop", local: "@demo.new", expiresIn: 40 * MINUTE, connectedAgo: 2 * HOUR },
  { id: "instagram-store", platform: "instagram", name: "Instagram · Store", local: "@demo.store", expiresIn: 20 * DAY },
  { id: "facebook-page", platform: "facebook", name: "Facebook · Demo Page", local: "Demo Page", expiresIn: 50 * MINUTE },
  { id: "facebook-events", platform: "facebook", name: "Facebook · Events", local: "Demo Events", expiresIn: 5 * HOUR },
  { id: "facebook-ads", platform: "facebook", name: "Facebook · Ads", local: "Demo Ads", expiresIn: 59 * DAY },
  { id: "whatsapp-support", platform: "whatsapp", name: "WhatsApp · Support", local: "+34 600 000 000", expiresIn: 7 * DAY },
  { id: "whatsapp-sales", platform: "whatsapp", name: "WhatsApp · Sales", local: "+34 600 000 002", expiresIn: 30 * HOUR },
  { id: "whatsapp-system", platform: "whatsapp", name: "WhatsApp · System user", local: "+34 600 000 001", expiresIn: null },
  { id: "threads-main", platform: "threads", name: "Threads · Main", local: "@demo", expiresIn: 3 * DAY },
];

/** The demo tenant's channels, with tokens minted by the simulator (one revoked there, to show a failure). */
export async function demoChannels(simulator: SimulatorControl, tenantId: string): Promise<ChannelInput[]> {
  const channels: ChannelInput[] = [];
  for (const entry of PLAN) {
    const tokens = await simulator.issue({
      platform: entry.platform,
      ...(entry.expiresIn === null ? { neverExpires: true } : { accessExpiresInSeconds: entry.expiresIn }),
      issuedAt: new Date(Date.now() - (entry.connectedAgo ?? 2 * DAY) * 1000),
    });
    if (entry.revoked) await simulator.revoke(tokens.refreshToken ?? tokens.accessToken);
    channels.push({
      tenantId,
      id: entry.id,
      type: entry.platform,
      displayName: entry.name,
      localName: entry.local,
      accessToken: tokens.accessToken,
      ...(tokens.refreshToken && { refreshToken: tokens.refreshToken }),
      expiresAt: tokens.expiresAt,
      ...(tokens.refreshTokenExpiresAt && { refreshTokenExpiresAt: tokens.refreshTokenExpiresAt }),
    });
  }
  return channels;
}
