import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { KeyRing } from "./crypto";
import { failure } from "./errors";
import type { Logger } from "./logger";
import { defineOperation } from "./operation";
import { planFromExpiry } from "./plan";
import { builtInCapabilities } from "./providers";
import type { QueueSettings } from "./queue/settings";
import type { Store } from "./store";
import { PLATFORMS, type Channel, type Credentials, type Platform } from "./types";
import { toChannel } from "./store/channels";
import { channelInputSchemaFor, describeIssues, idSchema, type ParsedChannelInput } from "./validation";

/** A channel as answers show it: dates as ISO strings, and never a token. */
export interface ChannelView {
  id: string;
  tenantId: string;
  type: Platform;
  displayName: string;
  localName: string;
  status: Channel["status"];
  meta: Record<string, unknown>;
  expiresAt: string | null;
  refreshTokenExpiresAt: string | null;
  hasRefreshToken: boolean;
  lastRefreshedAt: string | null;
  lastAttemptAt: string | null;
  lastOutcome: string | null;
  lastErrorCode: string | null;
  failureCount: number;
  /** Since when every refresh has failed (ISO); null while the last one succeeded. A channel that keeps failing shows it. */
  failingSince: string | null;
  /** When its next refresh is planned (ISO); null: none (needs reconnecting, never expires, or cannot be refreshed). */
  nextRefreshAt: string | null;
  createdAt: string;
  updatedAt: string;
}

const iso = (date: Date | null) => (date ? date.toISOString() : null);

export function toChannelView(channel: Channel): ChannelView {
  return {
    id: channel.id,
    tenantId: channel.tenantId,
    type: channel.type,
    displayName: channel.displayName,
    localName: channel.localName,
    status: channel.status,
    meta: channel.meta,
    expiresAt: iso(channel.expiresAt),
    refreshTokenExpiresAt: iso(channel.refreshTokenExpiresAt),
    hasRefreshToken: channel.hasRefreshToken,
    lastRefreshedAt: iso(channel.lastRefreshedAt),
    lastAttemptAt: iso(channel.lastAttemptAt),
    lastOutcome: channel.lastOutcome,
    lastErrorCode: channel.lastErrorCode,
    failureCount: channel.failureCount,
    failingSince: iso(channel.failingSince),
    nextRefreshAt: iso(channel.nextRefreshAt),
    createdAt: channel.createdAt.toISOString(),
    updatedAt: channel.updatedAt.toISOString(),
  };
}

/**
 * Whether the channel holds what its platform's refresh needs: a refresh token, or only the access token where the
 * platform exchanges the access token itself (Meta's). Configured OAuth 2.0 providers all need a refresh token.
 */
export function canRefresh(type: string, refreshToken: string | undefined): boolean {
  return refreshToken !== undefined || builtInCapabilities(type)?.refreshesWith === "accessToken";
}

export const channelRefInput = z.strictObject({ tenantId: idSchema, channelId: idSchema });
export const listChannelsInput = z.strictObject({
  tenantId: idSchema,
  limit: z.number().int().min(1).max(1000).default(100),
  offset: z.number().int().min(0).max(10_000_000).default(0),
});

/** What the queue does when a channel changes (its plan lives in SQL and needs nothing). */
export interface ChannelHooks {
  /** A channel was removed: drop its pending queued refresh. */
  removed(channel: Channel): Promise<void>;
}

/** Adding, reading and removing channels; tokens are encrypted before they reach the store. */
export function createChannelOperations(deps: {
  store: Store;
  keyRing: KeyRing;
  logger: Logger;
  /** The lead times a new or reconnected channel's plan is computed with. */
  settings: QueueSettings;
  hooks?: ChannelHooks;
  /** The channel types accepted: the built-in platforms and the configured providers. @defaultValue the built-ins */
  channelTypes?: readonly string[];
  now?: () => Date;
}) {
  const { store, keyRing, logger, hooks, settings } = deps;
  const inputSchema = channelInputSchemaFor(deps.channelTypes ?? PLATFORMS);
  const now = deps.now ?? (() => new Date());
  const notify = async (hook: (() => Promise<void>) | undefined) => {
    try {
      await hook?.();
    } catch (error) {
      logger.warn({ err: (error as Error).message }, "could not update the channel's planned refreshes");
    }
  };

  /** Whether the stored channel holds other credentials than these (or none, or none this key ring can read). */
  async function credentialsChange(tenantId: string, id: string, credentials: Credentials): Promise<boolean> {
    const existing = await store.channels.find(tenantId, id);
    if (!existing) return true;
    try {
      const stored = keyRing.decrypt(existing.credentials, { tenantId, channelId: id });
      return stored.accessToken !== credentials.accessToken || stored.refreshToken !== credentials.refreshToken;
    } catch {
      return true;
    }
  }

  async function save(input: ParsedChannelInput) {
    const id = input.id ?? `ch_${randomUUID().replaceAll("-", "")}`;
    const credentials: Credentials = { accessToken: input.accessToken, ...(input.refreshToken && { refreshToken: input.refreshToken }) };
    const expiresAt = input.expiresAt === undefined ? undefined : input.expiresAt === null ? null : new Date(input.expiresAt);
    const hasRefreshToken = canRefresh(input.type, input.refreshToken);
    const channel = await store.channels.upsert({
      tenantId: input.tenantId,
      id,
      type: input.type,
      displayName: input.displayName,
      localName: input.localName,
      meta: input.meta ?? {},
      credentials: keyRing.encrypt(credentials, { tenantId: input.tenantId, channelId: id }),
      // Only a reconnect clears the marker of an interrupted refresh: a rename must not hide a token it may have spent.
      credentialsChanged: input.id === undefined || (await credentialsChange(input.tenantId, id, credentials)),
      keyId: keyRing.activeKeyId,
      expiresAt,
      refreshTokenExpiresAt:
        input.refreshTokenExpiresAt === undefined
          ? undefined
          : input.refreshTokenExpiresAt === null
            ? null
            : new Date(input.refreshTokenExpiresAt),
      hasRefreshToken,
      // Planned from the new expiry in the same statement; an unknown expiry is learnt by refreshing now.
      nextRefreshAt: planFromExpiry({ type: input.type, hasRefreshToken }, expiresAt === undefined ? now() : expiresAt, now(), settings),
    });
    return toChannelView(channel);
  }

  return {
    /** Creates a channel, or replaces the one with the same tenant and id (a reconnect). */
    upsert: defineOperation("channels.upsert", inputSchema, logger, async (input) => ({
      success: true as const,
      channel: await save(input),
    })),

    /** Imports many channels; each is validated on its own, and one bad entry does not stop the others. */
    async import(inputs: unknown[], onProgress?: (done: number, total: number) => void) {
      const results: Array<{ index: number; success: boolean; channelId?: string; error?: string }> = [];
      for (const [index, raw] of inputs.entries()) {
        const parsed = inputSchema.safeParse(raw);
        if (!parsed.success) {
          results.push({ index, success: false, error: describeIssues(parsed.error) });
        } else {
          const channel = await save(parsed.data);
          results.push({ index, success: true, channelId: channel.id });
        }
        onProgress?.(index + 1, inputs.length);
      }
      return results;
    },

    get: defineOperation("channels.get", channelRefInput, logger, async (input) => {
      const row = await store.channels.find(input.tenantId, input.channelId);
      if (!row) return failure("NOT_FOUND", "No channel with this id in this tenant.");
      return { success: true as const, channel: toChannelView(toChannel(row)) };
    }),

    list: defineOperation("channels.list", listChannelsInput, logger, async (input) => ({
      success: true as const,
      channels: (await store.channels.list(input.tenantId, input)).map(toChannelView),
    })),

    remove: defineOperation("channels.remove", channelRefInput, logger, async (input) => {
      const removed = await store.channels.remove(input.tenantId, input.channelId);
      if (!removed) return failure("NOT_FOUND", "No channel with this id in this tenant.");
      await notify(hooks && (() => hooks.removed(removed)));
      return { success: true as const, removed: true };
    }),
  };
}
