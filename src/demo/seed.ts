import type { ChannelInput } from "../core/validation";
import type { SimulatorControl } from "../simulator";

const MINUTE = 60;
const DAY = 24 * 3600;

/** Channels of all four platforms whose expiries spread from already expired to 60 days, minted by the simulator. */
export async function demoChannels(simulator: SimulatorControl, tenantId: string): Promise<ChannelInput[]> {
  const plan = [
    { id: "tiktok-shop", platform: "tiktok", name: "TikTok · Shop", local: "@demo.shop", expiresIn: 3 * MINUTE },
    { id: "tiktok-brand", platform: "tiktok", name: "TikTok · Brand", local: "@demo.brand", expiresIn: 40 * MINUTE },
    { id: "tiktok-expired", platform: "tiktok", name: "TikTok · Old campaign", local: "@demo.old", expiresIn: -10 * MINUTE },
    { id: "instagram-main", platform: "instagram", name: "Instagram · Main", local: "@demo", expiresIn: 25 * MINUTE },
    { id: "instagram-store", platform: "instagram", name: "Instagram · Store", local: "@demo.store", expiresIn: 20 * DAY },
    { id: "facebook-page", platform: "facebook", name: "Facebook · Demo Page", local: "Demo Page", expiresIn: 50 * MINUTE },
    { id: "facebook-ads", platform: "facebook", name: "Facebook · Ads", local: "Demo Ads", expiresIn: 59 * DAY },
    { id: "whatsapp-support", platform: "whatsapp", name: "WhatsApp · Support", local: "+34 600 000 000", expiresIn: 7 * DAY },
    { id: "whatsapp-system", platform: "whatsapp", name: "WhatsApp · System user", local: "+34 600 000 001", expiresIn: null },
  ] as const;
  const channels: ChannelInput[] = [];
  for (const entry of plan) {
    const tokens = await simulator.issue({
      platform: entry.platform,
      ...(entry.expiresIn === null ? { neverExpires: true } : { accessExpiresInSeconds: entry.expiresIn }),
      // Instagram refuses tokens younger than 24 hours: these were connected two days ago.
      issuedAt: new Date(Date.now() - 2 * DAY * 1000),
    });
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
