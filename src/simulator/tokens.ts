import { randomBytes } from "node:crypto";
import type { SimPlatform } from "./options";

/** One token the simulator minted, and what the platform would know about it. */
export interface TokenRecord {
  token: string;
  platform: SimPlatform;
  kind: "access" | "refresh";
  issuedAt: number;
  /** Epoch ms; null: never expires. */
  expiresAt: number | null;
  /** Meta: expiry of the original long-lived grant, which an exchange cannot move when `extends` is false. */
  grantExpiresAt: number | null;
  revoked: boolean;
  /** TikTok: every access and refresh token descending from one authorization. */
  family?: string;
  openId?: string;
  /** TikTok: a refresh token that was already used; presenting it again is reuse. */
  rotatedOut?: boolean;
}

const PREFIX: Record<SimPlatform, { access: string; refresh: string }> = {
  facebook: { access: "simfb_", refresh: "simfb_" },
  instagram: { access: "simig_", refresh: "simig_" },
  whatsapp: { access: "simwa_", refresh: "simwa_" },
  tiktok: { access: "simtt_at_", refresh: "simtt_rt_" },
  threads: { access: "simth_", refresh: "simth_" },
};

/** Random, unguessable, and recognisable by its prefix (so leaks are easy to grep for). */
export function newTokenString(platform: SimPlatform, kind: "access" | "refresh"): string {
  return PREFIX[platform][kind] + randomBytes(24).toString("base64url");
}

/** Which platform minted a token, from its prefix alone. */
export function platformOfToken(token: string): SimPlatform | undefined {
  if (token.startsWith("simtt_")) return "tiktok";
  for (const platform of ["facebook", "instagram", "whatsapp", "threads"] as const) {
    if (token.startsWith(PREFIX[platform].access)) return platform;
  }
  return undefined;
}

export function newId(bytes = 8): string {
  return randomBytes(bytes).toString("hex");
}
