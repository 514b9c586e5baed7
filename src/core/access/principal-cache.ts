import type { Redis } from "ioredis";
import type { Logger } from "../logger";
import type { ApiPrincipal } from "./scopes";

interface Entry {
  principal: ApiPrincipal;
  until: number;
}

/**
 * Remembers for a short while who holds a REST API key (by the key's hash), so that a request spends no PostgreSQL
 * round trip on authentication — on the token route that is one of its two queries.
 *
 * Why revocation stays immediate: revoking publishes the key's id on a Redis channel and every process holding this
 * cache evicts it. The cache answers only while its subscription is live; on any break of the connection it empties
 * itself and answers nothing until it has subscribed again, since a revocation may have been missed meanwhile. A
 * lookup that raced a revocation is not stored (the generation moved on). Entries also expire after `ttlMs`.
 */
export class PrincipalCache {
  private readonly entries = new Map<string, Entry>();
  private subscriber: Redis | undefined;
  private live = false;
  private generation = 0;

  constructor(
    private readonly redis: Redis,
    private readonly channel: string,
    private readonly logger: Logger,
    private readonly options: { ttlMs: number; maxEntries: number } = { ttlMs: 30_000, maxEntries: 10_000 },
  ) {}

  /** The principal of a key hash, when remembered and the subscription is live. */
  get(keyHash: string, now = Date.now()): ApiPrincipal | undefined {
    if (!this.live) return undefined;
    const entry = this.entries.get(keyHash);
    if (!entry) return undefined;
    if (entry.until > now) return entry.principal;
    this.entries.delete(keyHash);
    return undefined;
  }

  /** Looks the hash up through `load` and remembers the answer, unless a revocation arrived meanwhile. */
  async load(keyHash: string, load: () => Promise<ApiPrincipal | null>): Promise<ApiPrincipal | null> {
    this.subscribe();
    const generation = this.generation;
    const principal = await load();
    if (principal && this.live && generation === this.generation) {
      if (this.entries.size >= this.options.maxEntries) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(keyHash, { principal, until: Date.now() + this.options.ttlMs });
    }
    return principal;
  }

  /** Forgets the key `keyId` here at once, and tells every other process's cache. */
  async announceRevocation(keyId: string): Promise<void> {
    this.forget(keyId);
    await this.redis.publish(this.channel, keyId);
  }

  async close(): Promise<void> {
    this.live = false;
    this.entries.clear();
    this.subscriber?.disconnect();
  }

  private forget(keyId?: string) {
    this.generation += 1;
    for (const [hash, entry] of this.entries) if (keyId === undefined || entry.principal.keyId === keyId) this.entries.delete(hash);
  }

  /** Subscribes on first use only: processes that never authenticate (workers, the CLI) open no connection. */
  private subscribe() {
    if (this.subscriber) return;
    // Named after its channel, so an operator (and a test) can tell it in CLIENT LIST.
    const subscriber = this.redis.duplicate({ maxRetriesPerRequest: null, connectionName: this.channel.replace(/\s/g, "_") });
    this.subscriber = subscriber;
    const down = () => {
      this.live = false;
      this.forget();
    };
    subscriber.on("error", (error) => this.logger.debug({ err: error.message }, "API key cache: Redis connection error"));
    subscriber.on("close", down);
    subscriber.on("message", (_channel: string, keyId: string) => this.forget(keyId));
    subscriber.on("ready", () => {
      subscriber.subscribe(this.channel).then(
        () => {
          this.forget();
          this.live = true;
        },
        down,
      );
    });
  }
}
