import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import type { KeyRing } from "./crypto";
import { ERROR_MESSAGES, REAUTH_CODES, RefreshError, type ErrorCode } from "./errors";
import type { ChannelLock } from "./lock";
import type { Logger } from "./logger";
import type { PlatformProvider } from "./providers/types";
import type { ChannelRow, RefreshWrite, Store } from "./store";
import { toChannel } from "./store/channels";
import type { Channel, Credentials, TokenSet } from "./types";

/** Why a refresh runs: kept on each event row ("read": getAccessToken found the token expiring too soon). */
export type RefreshTrigger = "manual" | "batch" | "scheduled" | "sweep" | "expiry" | "read";

export interface RefreshRequestOptions {
  tenantId: string;
  channelId: string;
  trigger: RefreshTrigger;
  jobId?: string;
  attempt?: number;
  /** Refresh only if the token expires before this instant (queued refreshes); otherwise answer `skipped`. */
  onlyIfExpiringBefore?: Date;
  /**
   * How long to wait for another refresh of the channel to finish before answering REFRESH_IN_PROGRESS. Queued jobs
   * wait briefly, so a lock left by a dead worker does not hold a job slot for its whole lifetime.
   * @defaultValue the lock's lifetime
   */
  lockWaitMs?: number;
}

export type RefreshOutcome =
  | {
      success: true;
      channelId: string;
      newExpiresAt: string | null;
      refreshedAt: string;
      /** Set when no platform call was needed: someone else just refreshed it, or it is not due yet. */
      skipped?: "refreshed-by-another-caller" | "not-due" | "recovered";
      channel: Channel;
    }
  | {
      success: false;
      channelId: string;
      code: ErrorCode;
      error: string;
      retryAfterMs?: number;
      httpStatus?: number;
    };

/** What the rest of the system does when a channel's refresh state changes (the queue plans the next refresh). */
export interface ChannelLifecycle {
  /** A refresh saved new tokens: plan the next one from the new expiry. */
  refreshed(channel: Channel, previousExpiresAt: Date | null): Promise<void>;
  /** The channel needs reconnecting: drop its planned refreshes. */
  flagged(channel: Pick<Channel, "tenantId" | "id" | "expiresAt">): Promise<void>;
}

/** Observes every attempt that reached a platform (metrics). */
export type AttemptObserver = (attempt: { platform: string; outcome: string; durationMs: number }) => void;

export interface RefreshDependencies {
  store: Store;
  redis: Redis;
  keyPrefix: string;
  keyRing: KeyRing;
  lock: ChannelLock;
  providerFor(channel: Pick<Channel, "type" | "meta">): PlatformProvider;
  logger: Logger;
  lifecycle?: ChannelLifecycle;
  observeAttempt?: AttemptObserver;
  now?: () => Date;
}

// Platforms whose refresh token is single-use: a crash after their answer loses the new token.
const ROTATING_PLATFORMS: readonly string[] = ["tiktok"];
// Meta cannot extend a long-lived token past its first 60 days: the exchange then answers with the same deadline
// (expires_in keeps shrinking). Its expires_in is whole seconds, hence the tolerance; and a refresh right after the
// previous one cannot tell a token that slid by a few seconds from one that did not move, hence the minimum age.
const MAY_NOT_EXTEND = new Set(["facebook", "instagram", "whatsapp"]);
const NOT_EXTENDED_TOLERANCE_MS = 1_000;
const NOT_EXTENDED_MIN_AGE_MS = 60_000;
// How long a refresh that could not be saved is kept (encrypted) in Redis for the next attempt to recover.
const RECOVERY_TTL_SECONDS = 30 * 24 * 3600;
const SAVE_RETRIES = [100, 300, 1000, 3000];
const ARRIVAL_SKEW_MS = 1000;

/**
 * Refreshes one channel: single flight across processes → load → platform → compare-and-set save → event.
 * Never throws for an expected failure: the outcome says what happened, with a stable code.
 */
export class ChannelRefresher {
  private readonly inFlight = new Map<string, Promise<RefreshOutcome>>();
  private readonly now: () => Date;

  constructor(private readonly deps: RefreshDependencies) {
    this.now = deps.now ?? (() => new Date());
  }

  /** Callers in this process asking for the same channel share one refresh; other processes meet at the lock. */
  refresh(options: RefreshRequestOptions): Promise<RefreshOutcome> {
    const key = `${options.tenantId}\u0000${options.channelId}`;
    const running = this.inFlight.get(key);
    if (running) return running;
    const promise = this.refreshUnshared(options).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, promise);
    return promise;
  }

  private async refreshUnshared(options: RefreshRequestOptions): Promise<RefreshOutcome> {
    const { tenantId, channelId } = options;
    const arrivedAt = Date.now();
    // The usual case, nobody refreshing this channel: take the lock at once and read the channel once.
    const acquiring = this.deps.lock.tryAcquire(tenantId, channelId);
    // Sent right behind the lock on the same connection, so it costs no round trip of its own; once the lock is
    // ours nobody else can write a stash, so what this reads is current.
    const stash = this.deps.redis.get(this.recoveryKey({ tenantId, id: channelId })).catch(() => undefined);
    const free = await acquiring;
    if (free) {
      try {
        // Read and, when the platform will be called with a single-use refresh token, marked in one round trip.
        const row = await this.deps.store.channels.claimForRefresh(tenantId, channelId, {
          attemptId: randomUUID(),
          platforms: ROTATING_PLATFORMS,
          dueBy: options.onlyIfExpiringBefore ?? null,
        });
        if (!row) return fail(channelId, "NOT_FOUND", "No channel with this id in this tenant.");
        return await this.refreshLocked(row, options, { claimed: true, stash: await stash });
      } finally {
        await this.deps.lock.release(tenantId, channelId, free).catch(() => {});
      }
    }
    // Someone holds it: note the last attempt now, so that after the wait their attempt is recognised as ours.
    const before = await this.deps.store.channels.find(tenantId, channelId);
    if (!before) return fail(channelId, "NOT_FOUND", "No channel with this id in this tenant.");
    const owner = await this.deps.lock.acquire(tenantId, channelId, options.lockWaitMs);
    if (!owner) {
      const retryAfterMs = Math.max(1000, await this.deps.lock.remainingMs(tenantId, channelId));
      return { success: false, channelId, code: "REFRESH_IN_PROGRESS", error: ERROR_MESSAGES.REFRESH_IN_PROGRESS, retryAfterMs };
    }
    try {
      const row = await this.deps.store.channels.find(tenantId, channelId);
      if (!row) return fail(channelId, "NOT_FOUND", "The channel was removed.");
      // Someone else attempted a refresh while we waited for the lock — or finished the one that held the lock when we
      // arrived, just before we read `before` (the second test; ARRIVAL_SKEW_MS absorbs clock skew with the database).
      const attempt = row.lastAttemptAt?.getTime();
      if (
        attempt !== undefined &&
        (!before.lastAttemptAt || attempt > before.lastAttemptAt.getTime() || attempt >= arrivedAt - ARRIVAL_SKEW_MS)
      ) {
        return this.resultOfLastAttempt(row);
      }
      return await this.refreshLocked(row, options, { claimed: false });
    } finally {
      await this.deps.lock.release(tenantId, channelId, owner).catch(() => {});
    }
  }

  private resultOfLastAttempt(row: ChannelRow): RefreshOutcome {
    if (row.lastOutcome === "success") return succeed(row, "refreshed-by-another-caller");
    const code = (row.lastErrorCode ?? "INTERNAL") as ErrorCode;
    return fail(row.id, code, row.lastError ?? ERROR_MESSAGES[code]);
  }

  /**
   * `claimed`: the row was read by `claimForRefresh`, which already marked the attempt if the platform is called.
   * `stash`: the recovery stash read under this lock (null: none; undefined: not read yet).
   */
  private async refreshLocked(
    row: ChannelRow,
    options: RefreshRequestOptions,
    { claimed, stash }: { claimed: boolean; stash?: string | null },
  ): Promise<RefreshOutcome> {
    if (row.status !== "active") {
      return fail(row.id, "NEEDS_REAUTH", row.lastError ?? ERROR_MESSAGES.NEEDS_REAUTH);
    }
    const recovered = await this.recover(row, options, stash === undefined ? await this.deps.redis.get(this.recoveryKey(row)) : stash);
    if (recovered) return recovered;
    if (row.expiresAt === null) return fail(row.id, "NEVER_EXPIRES");
    if (options.onlyIfExpiringBefore && row.expiresAt > options.onlyIfExpiringBefore) return succeed(row, "not-due");

    const started = performance.now();
    const binding = { tenantId: row.tenantId, channelId: row.id };
    const credentials = this.deps.keyRing.decrypt(row.credentials, binding);
    const channel = toChannel(row);
    // A marker left by an attempt that never finished: that attempt may have spent a single-use refresh token.
    const interrupted = row.refreshAttemptId !== null;
    const rotating = ROTATING_PLATFORMS.includes(row.type);
    if (rotating && !claimed) await this.deps.store.channels.markAttempt(row.tenantId, row.id, randomUUID());

    let tokens: TokenSet;
    try {
      tokens = await this.deps
        .providerFor(channel)
        .refresh({ channel, credentials, now: this.now() });
    } catch (error) {
      const refreshError = asRefreshError(error);
      const classified =
        interrupted && rotating && refreshError.code === "INVALID_CREDENTIALS"
          ? new RefreshError("ROTATION_LOST", { httpStatus: refreshError.httpStatus, platformCode: refreshError.platformCode })
          : refreshError;
      return this.saveFailure(row, options, classified, started);
    }
    return this.saveSuccess(row, options, credentials, tokens, started);
  }

  private async saveSuccess(
    row: ChannelRow,
    options: RefreshRequestOptions,
    used: Credentials,
    tokens: TokenSet,
    started: number,
  ): Promise<RefreshOutcome> {
    const binding = { tenantId: row.tenantId, channelId: row.id };
    const next: Credentials = { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken ?? used.refreshToken };
    const tokenAge = this.now().getTime() - (row.lastRefreshedAt ?? row.createdAt).getTime();
    const notExtended =
      MAY_NOT_EXTEND.has(row.type) &&
      tokenAge >= NOT_EXTENDED_MIN_AGE_MS &&
      row.expiresAt !== null &&
      tokens.expiresAt !== null &&
      tokens.expiresAt.getTime() <= row.expiresAt.getTime() + NOT_EXTENDED_TOLERANCE_MS;
    const write: RefreshWrite = {
      credentials: this.deps.keyRing.encrypt(next, binding),
      keyId: this.deps.keyRing.activeKeyId,
      expiresAt: tokens.expiresAt,
      refreshTokenExpiresAt:
        tokens.refreshTokenExpiresAt !== undefined ? tokens.refreshTokenExpiresAt : row.refreshTokenExpiresAt,
      hasRefreshToken: row.hasRefreshToken,
      ...(tokens.details && Object.keys(tokens.details).length > 0 && { details: tokens.details }),
      ...(notExtended && {
        flag: {
          code: "NOT_EXTENDED",
          message: `${ERROR_MESSAGES.NOT_EXTENDED} It expires at ${tokens.expiresAt!.toISOString()}.`,
        },
      }),
    };
    const event = {
      jobId: options.jobId ?? null,
      trigger: options.trigger,
      attempt: options.attempt ?? 1,
      outcome: notExtended ? "failure" : "success",
      errorCode: notExtended ? "NOT_EXTENDED" : null,
      durationMs: Math.round(performance.now() - started),
      oldExpiresAt: row.expiresAt,
      newExpiresAt: tokens.expiresAt,
    };
    const saved = await this.saveWithRetry(row, write, event, used);
    this.deps.observeAttempt?.({ platform: row.type, outcome: notExtended ? "NOT_EXTENDED" : "success", durationMs: event.durationMs });
    if (saved === "superseded") return fail(row.id, "SUPERSEDED");
    if (saved === "removed") return fail(row.id, "NOT_FOUND", "The channel was removed while it was being refreshed.");
    await this.notify(() =>
      notExtended ? this.deps.lifecycle?.flagged(saved) : this.deps.lifecycle?.refreshed(saved, row.expiresAt),
    );
    this.deps.logger.info(
      { tenantId: row.tenantId, channelId: row.id, platform: row.type, trigger: options.trigger, outcome: event.outcome },
      "channel refreshed",
    );
    if (notExtended) return fail(row.id, "NOT_EXTENDED", write.flag!.message);
    return succeed(saved);
  }

  /**
   * Compare-and-set with retries. A version that moved on because of an edit that kept the same credentials is
   * retried against the new version; new credentials written meanwhile (a reconnect) win over ours. When the
   * database cannot be reached at all, the new tokens are kept encrypted in Redis for the next attempt.
   */
  private async saveWithRetry(
    row: ChannelRow,
    write: RefreshWrite,
    event: Parameters<Store["channels"]["saveRefresh"]>[4],
    used: Credentials,
  ): Promise<Channel | "superseded" | "removed"> {
    let expectedVersion = row.version;
    for (let attempt = 0; ; attempt++) {
      try {
        const saved = await this.deps.store.channels.saveRefresh(row.tenantId, row.id, expectedVersion, write, event);
        if (saved) return saved;
        const current = await this.deps.store.channels.find(row.tenantId, row.id);
        if (!current) return "removed";
        const stored = this.deps.keyRing.decrypt(current.credentials, { tenantId: row.tenantId, channelId: row.id });
        if (stored.accessToken !== used.accessToken || stored.refreshToken !== used.refreshToken) return "superseded";
        expectedVersion = current.version;
      } catch (error) {
        const wait = SAVE_RETRIES[attempt];
        if (wait === undefined) {
          await this.stash(row, write);
          throw error;
        }
        this.deps.logger.warn({ channelId: row.id, err: describe(error) }, "saving a refresh failed; retrying");
        await sleep(wait);
      }
    }
  }

  /** Lifecycle hooks plan future work; their failure must not turn a saved refresh into a failed one. */
  private async notify(hook: () => Promise<void> | undefined): Promise<void> {
    try {
      await hook();
    } catch (error) {
      this.deps.logger.warn({ err: describe(error) }, "could not update the channel's planned refreshes");
    }
  }

  private recoveryKey(row: Pick<ChannelRow, "tenantId" | "id">): string {
    return `${this.deps.keyPrefix}recovery:${encodeURIComponent(row.tenantId)}:${encodeURIComponent(row.id)}`;
  }

  /** Keeps tokens the database refused, still encrypted, so the next attempt saves them instead of losing them. */
  private async stash(row: ChannelRow, write: RefreshWrite): Promise<void> {
    const value = JSON.stringify({ ...write, version: row.version, tenantId: row.tenantId, channelId: row.id });
    await this.deps.redis.set(this.recoveryKey(row), value, "EX", RECOVERY_TTL_SECONDS).catch(() => {});
    this.deps.logger.error({ channelId: row.id }, "could not save a refresh; new tokens kept encrypted in Redis");
  }

  /** Saves tokens stashed by an earlier attempt whose save failed, instead of calling the platform again. */
  private async recover(row: ChannelRow, options: RefreshRequestOptions, stashed: string | null): Promise<RefreshOutcome | null> {
    if (!stashed) return null;
    const parsed = JSON.parse(stashed) as RefreshWrite & { version: number; expiresAt: string | null };
    if (parsed.version !== row.version) {
      // The channel was written since (a reconnect): the stashed tokens are older than what is stored.
      await this.deps.redis.del(this.recoveryKey(row));
      return null;
    }
    const write: RefreshWrite = {
      ...parsed,
      expiresAt: parsed.expiresAt === null ? null : new Date(parsed.expiresAt),
      refreshTokenExpiresAt: parsed.refreshTokenExpiresAt ? new Date(parsed.refreshTokenExpiresAt) : null,
    };
    const saved = await this.deps.store.channels.saveRefresh(row.tenantId, row.id, row.version, write, {
      jobId: options.jobId ?? null,
      trigger: options.trigger,
      attempt: options.attempt ?? 1,
      outcome: "success",
      durationMs: 0,
      oldExpiresAt: row.expiresAt,
      newExpiresAt: write.expiresAt,
    });
    await this.deps.redis.del(this.recoveryKey(row));
    if (!saved) return null;
    await this.notify(() => this.deps.lifecycle?.refreshed(saved, row.expiresAt));
    return succeed(saved, "recovered");
  }

  private async saveFailure(
    row: ChannelRow,
    options: RefreshRequestOptions,
    error: RefreshError,
    started: number,
  ): Promise<RefreshOutcome> {
    const needsReauth = REAUTH_CODES.has(error.code) && error.details?.credentials !== "app";
    const durationMs = Math.round(performance.now() - started);
    await this.deps.store.channels.saveFailure(
      row.tenantId,
      row.id,
      // Rejected app credentials are a configuration problem, not the channel's: it stays active.
      { code: error.code, message: error.message, needsReauth },
      {
        jobId: options.jobId ?? null,
        trigger: options.trigger,
        attempt: options.attempt ?? 1,
        outcome: "failure",
        errorCode: error.code,
        errorMessage: error.message,
        httpStatus: error.httpStatus ?? null,
        durationMs,
        oldExpiresAt: row.expiresAt,
        newExpiresAt: null,
      },
    );
    this.deps.observeAttempt?.({ platform: row.type, outcome: error.code, durationMs });
    if (needsReauth) await this.notify(() => this.deps.lifecycle?.flagged(row));
    this.deps.logger.warn(
      { tenantId: row.tenantId, channelId: row.id, platform: row.type, trigger: options.trigger, error: error.toJSON() },
      "channel refresh failed",
    );
    return {
      success: false,
      channelId: row.id,
      code: error.code,
      error: error.message,
      ...(error.retryAfterMs !== undefined && { retryAfterMs: error.retryAfterMs }),
      ...(error.httpStatus !== undefined && { httpStatus: error.httpStatus }),
    };
  }
}

function succeed(row: ChannelRow | Channel, skipped?: "refreshed-by-another-caller" | "not-due" | "recovered"): RefreshOutcome {
  const channel = "credentials" in row ? toChannel(row) : row;
  return {
    success: true,
    channelId: channel.id,
    newExpiresAt: channel.expiresAt?.toISOString() ?? null,
    refreshedAt: (channel.lastRefreshedAt ?? new Date()).toISOString(),
    ...(skipped && { skipped }),
    channel,
  };
}

function fail(channelId: string, code: ErrorCode, error: string = ERROR_MESSAGES[code]): RefreshOutcome {
  return { success: false, channelId, code, error };
}

function asRefreshError(error: unknown): RefreshError {
  if (error instanceof RefreshError) return error;
  return new RefreshError("INTERNAL", { cause: error });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
