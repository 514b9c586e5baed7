import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import type { KeyRing } from "./crypto";
import { ERROR_MESSAGES, REAUTH_CODES, RefreshError, type ErrorCode } from "./errors";
import type { ChannelLock } from "./lock";
import type { Logger } from "./logger";
import { planAfterFailure, planFromExpiry } from "./plan";
import { builtInCapabilities, platformsSharingApp, type PlatformCapabilities } from "./providers";
import type { PlatformProvider } from "./providers/types";
import type { TenantRefreshBudget } from "./refresh-budget";
import type { QueueSettings } from "./queue/settings";
import type { AttemptFence, ChannelRow, ClaimedRow, RefreshWrite, Store } from "./store";
import { toChannel } from "./store/channels";
import type { Channel, Credentials, TokenSet } from "./types";
import { redisNames } from "./redis-names";

/** Why a refresh runs: kept on each event row ("read": getAccessToken found the token expiring too soon). */
export type RefreshTrigger = "manual" | "batch" | "scheduled" | "sweep" | "expiry" | "read";

export interface RefreshRequestOptions {
  tenantId: string;
  channelId: string;
  trigger: RefreshTrigger;
  jobId?: string;
  attempt?: number;
  /** Refresh only if the token expires before this instant (queued refreshes); otherwise answer `skipped`. */
  ifExpiresBy?: Date;
  /**
   * Refresh only while the channel is at this version (a job queued for the channel's plan): any outcome or reconnect
   * written since wrote a newer plan, and the job answers `skipped`.
   */
  onlyIfVersion?: number;
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

/** Observes every attempt that reached a platform (metrics). */
export type AttemptObserver = (attempt: { platform: string; outcome: string; durationMs: number }) => void;

export interface RefreshDependencies {
  store: Store;
  redis: Redis;
  keyPrefix: string;
  keyRing: KeyRing;
  lock: ChannelLock;
  providerFor(channel: Pick<Channel, "type" | "meta">): PlatformProvider;
  /** What a channel type's platform does (rotation, may-not-extend). @defaultValue the built-in platforms' */
  capabilitiesOf?: (type: string) => PlatformCapabilities | undefined;
  logger: Logger;
  /** Lead times, backoff and leases: every outcome writes the channel's next plan from them (src/core/plan.ts). */
  settings: QueueSettings;
  observeAttempt?: AttemptObserver;
  /** Bounds each tenant's manual refreshes (triggers "manual" and "batch"); none: unbounded. */
  manualRefreshBudget?: TenantRefreshBudget;
  now?: () => Date;
}

// What a tenant asks for by hand: bounded per tenant. Scheduled, sweep, expiry and read refreshes are the service's own.
const MANUAL_TRIGGERS: ReadonlySet<RefreshTrigger> = new Set(["manual", "batch"]);
// Platforms that may not extend a token (capabilities.mayNotExtend; Meta past a token's first 60 days) answer with the
// same deadline (expires_in keeps shrinking). Their expires_in is whole seconds, hence the tolerance; and a refresh
// right after the previous one cannot tell a token that slid by a few seconds from one that did not move, hence the
// minimum age.
const NOT_EXTENDED_TOLERANCE_MS = 1_000;
const NOT_EXTENDED_MIN_AGE_MS = 60_000;
// How long a refresh that could not be saved is kept (encrypted) in Redis for the next attempt to recover.
const RECOVERY_TTL_SECONDS = 30 * 24 * 3600;
const SAVE_RETRIES = [100, 300, 1000, 3000];
/** How long a refresh may spend retrying its save after the platform answered (statements' own time aside). */
export const SAVE_RETRY_BUDGET_MS = SAVE_RETRIES.reduce((total, wait) => total + wait, 0);
const SHUTTING_DOWN = "Refresca is shutting down in this process: the refresh was not started (a running worker will do it).";
// A stash Redis refused is held in memory and offered to Redis again this often.
const HELD_RETRY_MS = 5000;
// Saves of a stash that lose a compare-and-set to an edit made meanwhile, before giving up.
const RECOVERY_ATTEMPTS = 3;

/** A refresh the database refused, kept for the next attempt: the write, and the credentials it replaces (encrypted). */
type Stash = RefreshWrite & { replaces?: string; version: number; tenantId: string; channelId: string };
const ARRIVAL_SKEW_MS = 1000;

/**
 * Refreshes one channel: single flight across processes → load → platform → compare-and-set save → event.
 * Never throws for an expected failure: the outcome says what happened, with a stable code.
 */
export class ChannelRefresher {
  private readonly inFlight = new Map<string, Promise<RefreshOutcome>>();
  /** Stashes Redis refused (recovery key → stash), held until Redis takes them or a refresh saves them. */
  private readonly held = new Map<string, string>();
  private heldRetry?: NodeJS.Timeout;
  private closing = false;
  private readonly now: () => Date;
  private readonly capabilitiesOf: (type: string) => PlatformCapabilities | undefined;

  constructor(private readonly deps: RefreshDependencies) {
    this.now = deps.now ?? (() => new Date());
    this.capabilitiesOf = deps.capabilitiesOf ?? builtInCapabilities;
  }

  /** Callers in this process asking for the same channel share one refresh; other processes meet at the lock. */
  refresh(options: RefreshRequestOptions): Promise<RefreshOutcome> {
    const key = `${options.tenantId}\u0000${options.channelId}`;
    const running = this.inFlight.get(key);
    if (running) return running;
    if (this.closing) return Promise.resolve(fail(options.channelId, "QUEUE_UNAVAILABLE", SHUTTING_DOWN));
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
      // Renewed while the platform call and the save run: a slow save never lets a second refresh in.
      const hold = this.deps.lock.hold(tenantId, channelId, free);
      try {
        const stashed = this.held.get(this.recoveryKey({ tenantId, id: channelId })) ?? (await stash);
        const overBudget = stashed ? null : await this.overManualBudget(options);
        if (overBudget) return overBudget;
        // Read and, when the platform is to be called, claimed for this attempt in one round trip.
        const attemptId = randomUUID();
        const row = await this.claim(tenantId, channelId, options, attemptId, stashed);
        if (!row) return fail(channelId, "NOT_FOUND", "No channel with this id in this tenant.");
        return await this.refreshLocked(row, options, attemptId, stashed);
      } finally {
        hold.stop();
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
    const hold = this.deps.lock.hold(tenantId, channelId, owner);
    try {
      const current = await this.deps.store.channels.find(tenantId, channelId);
      if (!current) return fail(channelId, "NOT_FOUND", "The channel was removed.");
      // Someone else attempted a refresh while we waited for the lock — or finished the one that held the lock when we
      // arrived, just before we read `before` (the second test; ARRIVAL_SKEW_MS absorbs clock skew with the database).
      const attempt = current.lastAttemptAt?.getTime();
      if (
        attempt !== undefined &&
        (!before.lastAttemptAt || attempt > before.lastAttemptAt.getTime() || attempt >= arrivedAt - ARRIVAL_SKEW_MS)
      ) {
        return this.resultOfLastAttempt(current);
      }
      const key = this.recoveryKey({ tenantId, id: channelId });
      const stashed = this.held.get(key) ?? (await this.deps.redis.get(key));
      const overBudget = stashed ? null : await this.overManualBudget(options);
      if (overBudget) return overBudget;
      const attemptId = randomUUID();
      const row = await this.claim(tenantId, channelId, options, attemptId, stashed);
      if (!row) return fail(channelId, "NOT_FOUND", "The channel was removed.");
      return await this.refreshLocked(row, options, attemptId, stashed);
    } finally {
      hold.stop();
      await this.deps.lock.release(tenantId, channelId, owner).catch(() => {});
    }
  }

  /**
   * Reads the channel and claims it for this attempt (see CLAIM_FOR_REFRESH): the attempt's id, and a fallback plan for
   * when this process dies before it writes an outcome. Tokens waiting in a stash are saved whatever the due time.
   */
  private claim(tenantId: string, channelId: string, options: RefreshRequestOptions, attemptId: string, stashed: string | null | undefined) {
    return this.deps.store.channels.claimForRefresh(tenantId, channelId, {
      attemptId,
      ifExpiresBy: options.ifExpiresBy ?? null,
      version: options.onlyIfVersion ?? null,
      fallbackPlan: new Date(this.now().getTime() + this.deps.settings.attemptLeaseMs),
      force: Boolean(stashed),
    });
  }

  private resultOfLastAttempt(row: ChannelRow): RefreshOutcome {
    if (row.lastOutcome === "success") return succeed(row, "refreshed-by-another-caller");
    const code = (row.lastErrorCode ?? "INTERNAL") as ErrorCode;
    return fail(row.id, code, row.lastError ?? ERROR_MESSAGES[code]);
  }

  /**
   * `row`: the channel as `claimForRefresh` found it (`claimed` when this attempt, `attemptId`, may call the platform).
   * `stashed`: the recovery stash read under this lock (null or undefined: none).
   */
  private async refreshLocked(
    row: ClaimedRow,
    options: RefreshRequestOptions,
    attemptId: string,
    stashed: string | null | undefined,
  ): Promise<RefreshOutcome> {
    if (row.status !== "active") {
      return fail(row.id, "NEEDS_REAUTH", row.lastError ?? ERROR_MESSAGES.NEEDS_REAUTH);
    }
    const recovered = await this.recover(row, options, stashed, attemptId);
    if (recovered) return recovered;
    if (row.expiresAt === null) return fail(row.id, "NEVER_EXPIRES");
    if (options.onlyIfVersion !== undefined && row.version !== options.onlyIfVersion) return succeed(row, "not-due");
    if (options.ifExpiresBy && row.expiresAt > options.ifExpiresBy) return succeed(row, "not-due");
    // The platform asked not to be called yet (for this channel or its whole app): answer without calling it. The
    // claim decided by the database's clock; should it be behind this process's, wait a second more.
    const waitMs = row.throttledUntil ? row.throttledUntil.getTime() - this.now().getTime() : 0;
    if (waitMs > 0 || !row.claimed) {
      const retryAfterMs = Math.max(waitMs, 1000);
      const error = `${ERROR_MESSAGES.RATE_LIMITED} (retry in ${Math.ceil(retryAfterMs / 1000)} s)`;
      return { success: false, channelId: row.id, code: "RATE_LIMITED", retryAfterMs, error };
    }

    const started = performance.now();
    const binding = { tenantId: row.tenantId, channelId: row.id };
    const credentials = this.deps.keyRing.decrypt(row.credentials, binding);
    const channel = toChannel(row);
    // A marker left by an attempt that never finished: that attempt may have spent a single-use refresh token.
    const interrupted = row.refreshAttemptId !== null;
    // A single-use refresh token (or one that may be: "detect"): a crash after the answer loses the new token.
    const rotating = (this.capabilitiesOf(row.type)?.rotatesRefreshToken ?? false) !== false;

    // Closing: no new platform call (its answer could arrive after the connections are gone); the ones running finish.
    if (this.closing) return fail(row.id, "QUEUE_UNAVAILABLE", SHUTTING_DOWN);
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
      return this.saveFailure(row, options, classified, started, attemptId);
    }
    return this.saveSuccess(row, options, credentials, tokens, started, attemptId);
  }

  private async saveSuccess(
    row: ChannelRow,
    options: RefreshRequestOptions,
    used: Credentials,
    tokens: TokenSet,
    started: number,
    attemptId: string,
  ): Promise<RefreshOutcome> {
    const binding = { tenantId: row.tenantId, channelId: row.id };
    const next: Credentials = { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken ?? used.refreshToken };
    const tokenAge = this.now().getTime() - (row.lastRefreshedAt ?? row.createdAt).getTime();
    const notExtended =
      this.capabilitiesOf(row.type)?.mayNotExtend === true &&
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
    // A token Meta would not extend waits for a reconnect: no plan. Otherwise, shortly before the new expiry.
    const nextRefreshAt = notExtended ? null : planFromExpiry(row, tokens.expiresAt, this.now(), this.deps.settings);
    const saved = await this.saveWithRetry(row, write, event, used, { attemptId, nextRefreshAt });
    this.deps.observeAttempt?.({ platform: row.type, outcome: notExtended ? "NOT_EXTENDED" : "success", durationMs: event.durationMs });
    if (saved === "superseded") return fail(row.id, "SUPERSEDED");
    if (saved === "removed") return fail(row.id, "NOT_FOUND", "The channel was removed while it was being refreshed.");
    this.deps.logger.info(
      { tenantId: row.tenantId, channelId: row.id, platform: row.type, trigger: options.trigger, outcome: event.outcome },
      "channel refreshed",
    );
    if (notExtended) return fail(row.id, "NOT_EXTENDED", write.flag!.message);
    return succeed(saved);
  }

  /**
   * Compare-and-set with retries, fenced by the attempt's id. A version that moved on because of an edit that kept the
   * same credentials is retried against the new version; new credentials written meanwhile (a reconnect) win over
   * ours, and so does a newer attempt that took the channel over (this one lost its lock). When the database cannot
   * be reached at all, the new tokens are kept encrypted in Redis for the next attempt.
   */
  private async saveWithRetry(
    row: ChannelRow,
    write: RefreshWrite,
    event: Parameters<Store["channels"]["saveRefresh"]>[4],
    used: Credentials,
    fence: AttemptFence,
  ): Promise<Channel | "superseded" | "removed"> {
    let expectedVersion = row.version;
    for (let attempt = 0; ; attempt++) {
      try {
        const saved = await this.deps.store.channels.saveRefresh(row.tenantId, row.id, expectedVersion, write, event, fence);
        if (saved) return saved;
        const current = await this.deps.store.channels.find(row.tenantId, row.id);
        if (!current) return "removed";
        if (current.refreshAttemptId !== fence.attemptId) {
          this.deps.logger.error(
            { tenantId: row.tenantId, channelId: row.id, platform: row.type },
            "a refresh lost its claim on the channel before saving (reconnected meanwhile, or taken over by a newer attempt): its new tokens are not saved",
          );
          return "superseded";
        }
        const stored = this.deps.keyRing.decrypt(current.credentials, { tenantId: row.tenantId, channelId: row.id });
        if (stored.accessToken !== used.accessToken || stored.refreshToken !== used.refreshToken) return "superseded";
        expectedVersion = current.version;
      } catch (error) {
        const wait = SAVE_RETRIES[attempt];
        if (wait === undefined) {
          await this.stash(row, write, used);
          throw error;
        }
        this.deps.logger.warn({ channelId: row.id, err: describe(error) }, "saving a refresh failed; retrying");
        await sleep(wait);
      }
    }
  }

  /**
   * A manual refresh draws on its tenant's budget before it claims the channel (the platform's quota is the app's,
   * shared by every tenant); past it, the answer is RATE_LIMITED with when to come back, and nothing is touched.
   * Callers that join a refresh in flight, or find it just done by another process, never get here.
   */
  private async overManualBudget(options: RefreshRequestOptions): Promise<RefreshOutcome | null> {
    const budget = this.deps.manualRefreshBudget;
    if (!budget || !MANUAL_TRIGGERS.has(options.trigger)) return null;
    const decision = await budget.take(options.tenantId);
    if (decision.allowed) return null;
    return {
      success: false,
      channelId: options.channelId,
      code: "RATE_LIMITED",
      error:
        `This tenant's manual refreshes are over their budget (${budget.limit.burst} at once, then ${budget.limit.perSecond} a ` +
        `second, shared by every tenant's share of the platform's quota): retry in ${decision.retryAfterSeconds} s.`,
      retryAfterMs: decision.retryAfterSeconds * 1000,
    };
  }

  /** Resolves once no refresh is running in this process: every platform answer received has been saved or stashed. */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight.values()]);
  }

  /** How many refreshes are running in this process. */
  get running(): number {
    return this.inFlight.size;
  }

  /**
   * For shutdown, before the store and Redis close: starts no new platform call, waits for the running ones to save
   * (or stash) their answers, and offers stashes held in memory to Redis a last time. Tokens that still have nowhere to
   * go are lost with the process: each such channel is logged, so that someone reconnects it.
   */
  async close(): Promise<void> {
    this.closing = true;
    await this.settle();
    if (this.held.size > 0) await this.flushHeld();
    if (this.heldRetry) clearInterval(this.heldRetry);
    this.heldRetry = undefined;
    for (const value of this.held.values()) {
      const { tenantId, channelId } = JSON.parse(value) as Stash;
      this.deps.logger.error(
        { tenantId, channelId },
        "new tokens lost at shutdown: neither the database nor Redis took them; the channel will need reconnecting",
      );
    }
    this.held.clear();
  }

  private recoveryKey(row: Pick<ChannelRow, "tenantId" | "id">): string {
    return redisNames(this.deps.keyPrefix).recoveryStash(row.tenantId, row.id);
  }

  /**
   * Keeps tokens the database refused, still encrypted, so the next attempt saves them instead of losing them. With
   * them goes what they replace (encrypted too): recovery saves them only while the channel still holds exactly that.
   * When Redis refuses the stash as well, it is held in this process's memory and written to Redis as soon as it can be.
   */
  private async stash(row: ChannelRow, write: RefreshWrite, replaced: Credentials): Promise<void> {
    const binding = { tenantId: row.tenantId, channelId: row.id };
    const stash: Stash = {
      ...write,
      replaces: this.deps.keyRing.encrypt(replaced, binding),
      version: row.version,
      tenantId: row.tenantId,
      channelId: row.id,
    };
    const key = this.recoveryKey(row);
    const value = JSON.stringify(stash);
    const log = { tenantId: row.tenantId, channelId: row.id, platform: row.type };
    try {
      await this.deps.redis.set(key, value, "EX", RECOVERY_TTL_SECONDS);
      this.deps.logger.error(log, "could not save a refresh; the new tokens are kept encrypted in Redis for the next attempt");
    } catch (error) {
      this.hold(key, value);
      this.deps.logger.error(
        { ...log, err: describe(error) },
        "could not save a refresh, and the new tokens were NOT kept in Redis: only this process holds them (encrypted, in " +
          "memory) until Redis or the database takes them; if it stops first, they are lost and the channel will need reconnecting",
      );
    }
  }

  /** Holds a stash Redis refused and retries writing it there, so that any process can recover it. */
  private hold(key: string, value: string): void {
    this.held.set(key, value);
    this.heldRetry ??= setInterval(() => void this.flushHeld(), HELD_RETRY_MS);
    this.heldRetry.unref();
  }

  /** Writes the stashes held in memory to Redis; answers how many are still held. */
  private async flushHeld(): Promise<number> {
    for (const [key, value] of this.held) {
      try {
        await this.deps.redis.set(key, value, "EX", RECOVERY_TTL_SECONDS);
        if (this.held.get(key) === value) this.held.delete(key);
        this.deps.logger.warn({ key: key.slice(this.deps.keyPrefix.length) }, "new tokens held in memory are now kept encrypted in Redis");
      } catch {
        // Still away: the next round tries again.
      }
    }
    if (this.held.size === 0 && this.heldRetry) {
      clearInterval(this.heldRetry);
      this.heldRetry = undefined;
    }
    return this.held.size;
  }

  private async forgetStash(row: ChannelRow): Promise<void> {
    this.held.delete(this.recoveryKey(row));
    await this.deps.redis.del(this.recoveryKey(row));
  }

  /**
   * Saves tokens stashed by an earlier attempt whose save failed, instead of calling the platform again — as long as the
   * channel still holds the credentials those tokens replaced. Edits that kept them (a rename) do not matter; new
   * credentials written since (a reconnect) make the stash stale, and it is dropped.
   */
  private async recover(
    row: ChannelRow,
    options: RefreshRequestOptions,
    stashed: string | null | undefined,
    attemptId: string,
  ): Promise<RefreshOutcome | null> {
    if (!stashed) return null;
    const { replaces, version, tenantId: _tenantId, channelId: _channelId, ...parsed } = JSON.parse(stashed) as Stash & { expiresAt: string | null };
    const binding = { tenantId: row.tenantId, channelId: row.id };
    const write: RefreshWrite = {
      ...parsed,
      expiresAt: parsed.expiresAt === null ? null : new Date(parsed.expiresAt),
      refreshTokenExpiresAt: parsed.refreshTokenExpiresAt ? new Date(parsed.refreshTokenExpiresAt) : null,
    };
    let current: ChannelRow | null = row;
    for (let attempt = 0; current && attempt < RECOVERY_ATTEMPTS; attempt++) {
      // Stashes written before they carried `replaces` can only be matched by version.
      const stillReplaces =
        replaces === undefined
          ? version === current.version
          : sameCredentials(this.deps.keyRing.decrypt(replaces, binding), this.deps.keyRing.decrypt(current.credentials, binding));
      if (!stillReplaces) break;
      const saved = await this.deps.store.channels.saveRefresh(current.tenantId, current.id, current.version, write, {
        jobId: options.jobId ?? null,
        trigger: options.trigger,
        attempt: options.attempt ?? 1,
        outcome: "success",
        durationMs: 0,
        oldExpiresAt: current.expiresAt,
        newExpiresAt: write.expiresAt,
      }, { attemptId, nextRefreshAt: planFromExpiry(current, write.expiresAt, this.now(), this.deps.settings) });
      if (saved) {
        await this.forgetStash(row);
        this.deps.logger.info({ tenantId: row.tenantId, channelId: row.id, platform: row.type }, "saved the new tokens kept from an earlier refresh");
        return succeed(saved, "recovered");
      }
      // Written meanwhile (a rename, or a reconnect): look again.
      current = await this.deps.store.channels.find(row.tenantId, row.id);
    }
    // The channel was reconnected (or refreshed) since: the stashed tokens are older than what is stored.
    await this.forgetStash(row);
    return null;
  }

  private async saveFailure(
    row: ChannelRow,
    options: RefreshRequestOptions,
    error: RefreshError,
    started: number,
    attemptId: string,
  ): Promise<RefreshOutcome> {
    // Rejected app credentials are a configuration problem, not the channel's: it stays active.
    const needsReauth = REAUTH_CODES.has(error.code);
    const appWide = error.code === "RATE_LIMITED" && error.details?.throttleScope === "app";
    const durationMs = Math.round(performance.now() - started);
    const plan = planAfterFailure(
      row,
      { code: error.code, needsReauth, appWide, ...(error.retryAfterMs !== undefined && { retryAfterMs: error.retryAfterMs }) },
      this.now(),
      this.deps.settings,
    );
    const saved = await this.deps.store.channels.saveFailure(
      row.tenantId,
      row.id,
      {
        code: error.code,
        message: error.message,
        needsReauth,
        // The 24-hour rule is the platform saying "not yet" about a working token: no failing episode, no webhook.
        failing: error.code !== "TOO_EARLY",
        attemptId,
        ...plan,
        appPlatforms: appWide ? platformsSharingApp(row.type) : [],
      },
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
    if (!saved) {
      // Reconnected while the call ran (or taken over by a newer attempt): this outcome is about credentials that are
      // no longer the channel's, and must not flag or re-plan it.
      this.deps.logger.info({ tenantId: row.tenantId, channelId: row.id, platform: row.type, code: error.code }, "refresh outcome superseded");
      return fail(row.id, "SUPERSEDED");
    }
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

function sameCredentials(a: Credentials, b: Credentials): boolean {
  return a.accessToken === b.accessToken && a.refreshToken === b.refreshToken;
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
