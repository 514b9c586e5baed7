import { FaultQueue } from "./faults";
import { mergeConfig, SIM_PLATFORMS, type SimPlatform, type SimulatorConfig, type SimulatorConfigPatch } from "./options";
import { newId, newTokenString, type TokenRecord } from "./tokens";

export interface IssueInput {
  platform: SimPlatform;
  /** Access token lifetime from now; may be negative to mint an expired token. @defaultValue the platform's lifetime from `issuedAt` */
  accessExpiresInSeconds?: number;
  /** TikTok only: refresh token lifetime from now. @defaultValue tiktok.refreshLifetimeSeconds */
  refreshExpiresInSeconds?: number;
  /** Backdates the token (e.g. to make an Instagram or Threads token older than 24 h). @defaultValue now */
  issuedAt?: Date | string;
  /** A token that never expires (Page or system-user token). */
  neverExpires?: boolean;
}

/** A minted token set, shaped like a channel's input (ISO dates). */
export interface IssuedTokenSet {
  platform: SimPlatform;
  accessToken: string;
  refreshToken?: string;
  /** ISO-8601; null: never expires. */
  expiresAt: string | null;
  refreshTokenExpiresAt?: string;
}

export interface SimulatorStats {
  /** Platform endpoint calls, whatever their outcome. */
  calls: Record<SimPlatform, number>;
  totalCalls: number;
  /** Calls per presented token (the token being exchanged or the refresh token). */
  callsByToken: Record<string, number>;
  /** TikTok refresh tokens presented again after they were rotated out. */
  reuseDetected: number;
  /** Most platform requests in flight at once. */
  maxConcurrent: number;
  inFlight: number;
  callsForToken(token: string): number;
}

const zeroCalls = (): Record<SimPlatform, number> => Object.fromEntries(SIM_PLATFORMS.map((platform) => [platform, 0])) as Record<SimPlatform, number>;
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** Everything the simulated platforms remember: tokens, counters, pending faults, configuration. */
export class SimulatorState {
  config: SimulatorConfig;
  readonly faults = new FaultQueue();
  private tokens = new Map<string, TokenRecord>();
  private minted: string[] = [];
  private calls = zeroCalls();
  private callsByToken = new Map<string, number>();
  private reuse = 0;
  private inFlight = 0;
  private maxConcurrent = 0;

  constructor(private readonly initial: SimulatorConfig) {
    this.config = initial;
  }

  configure(patch: SimulatorConfigPatch): void {
    this.config = mergeConfig(this.config, patch);
  }

  /** Forgets every token, counter and fault, and restores the configuration the simulator started with. */
  reset(): void {
    this.config = this.initial;
    this.faults.clear();
    this.tokens.clear();
    this.minted = [];
    this.calls = zeroCalls();
    this.callsByToken.clear();
    this.reuse = 0;
    this.maxConcurrent = this.inFlight;
  }

  mint(fields: Omit<TokenRecord, "token" | "revoked">): TokenRecord {
    const record: TokenRecord = { ...fields, token: newTokenString(fields.platform, fields.kind), revoked: false };
    this.tokens.set(record.token, record);
    this.minted.push(record.token);
    return record;
  }

  find(token: string): TokenRecord | undefined {
    return this.tokens.get(token);
  }

  issue(input: IssueInput): IssuedTokenSet {
    const now = Date.now();
    const issuedAt = input.issuedAt === undefined ? now : new Date(input.issuedAt).getTime();
    if (!Number.isFinite(issuedAt)) throw new TypeError("issuedAt is not a date");
    const { platform } = input;
    const lifetime = {
      tiktok: this.config.tiktok.accessLifetimeSeconds,
      instagram: this.config.instagram.tokenLifetimeSeconds,
      threads: this.config.threads.tokenLifetimeSeconds,
      facebook: this.config.meta.tokenLifetimeSeconds,
      whatsapp: this.config.meta.tokenLifetimeSeconds,
    }[platform];
    const expiresAt = input.neverExpires
      ? null
      : input.accessExpiresInSeconds !== undefined
        ? now + input.accessExpiresInSeconds * 1000
        : issuedAt + lifetime * 1000;
    if (platform !== "tiktok") {
      const access = this.mint({ platform, kind: "access", issuedAt, expiresAt, grantExpiresAt: expiresAt });
      return { platform, accessToken: access.token, expiresAt: iso(expiresAt) };
    }
    const family = newId();
    const openId = `-000${newId(12)}`;
    const refreshExpiresAt = now + (input.refreshExpiresInSeconds ?? this.config.tiktok.refreshLifetimeSeconds) * 1000;
    const access = this.mint({ platform, kind: "access", issuedAt, expiresAt, grantExpiresAt: null, family, openId });
    const refresh = this.mint({
      platform,
      kind: "refresh",
      issuedAt,
      expiresAt: refreshExpiresAt,
      grantExpiresAt: null,
      family,
      openId,
    });
    return {
      platform,
      accessToken: access.token,
      refreshToken: refresh.token,
      expiresAt: iso(expiresAt),
      refreshTokenExpiresAt: new Date(refreshExpiresAt).toISOString(),
    };
  }

  /** Revokes one token, or for TikTok its whole family. Answers how many tokens stopped working. */
  revoke(token: string): number {
    const record = this.tokens.get(token);
    if (!record) return 0;
    if (record.family !== undefined) return this.revokeFamily(record.family);
    const was = record.revoked;
    record.revoked = true;
    return was ? 0 : 1;
  }

  revokeFamily(family: string): number {
    let count = 0;
    for (const record of this.tokens.values()) {
      if (record.family === family && !record.revoked) {
        record.revoked = true;
        count += 1;
      }
    }
    return count;
  }

  recordReuse(): void {
    this.reuse += 1;
  }

  issuedTokens(): string[] {
    return [...this.minted];
  }

  recordCall(platform: SimPlatform, presented: string | undefined): void {
    this.calls[platform] += 1;
    if (presented) this.callsByToken.set(presented, (this.callsByToken.get(presented) ?? 0) + 1);
  }

  enter(): void {
    this.inFlight += 1;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.inFlight);
  }

  leave(): void {
    this.inFlight -= 1;
  }

  stats(): SimulatorStats {
    return statsFrom({
      calls: { ...this.calls },
      totalCalls: SIM_PLATFORMS.reduce((sum, p) => sum + this.calls[p], 0),
      callsByToken: Object.fromEntries(this.callsByToken),
      reuseDetected: this.reuse,
      maxConcurrent: this.maxConcurrent,
      inFlight: this.inFlight,
    });
  }
}

/** Adds `callsForToken` to a plain stats snapshot (also used by the HTTP client). */
export function statsFrom(snapshot: Omit<SimulatorStats, "callsForToken">): SimulatorStats {
  return { ...snapshot, callsForToken: (token) => snapshot.callsByToken[token] ?? 0 };
}
