import { createHmac, timingSafeEqual } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../src/core/logger";
import { isPublicAddress } from "../src/core/webhooks";
import { rotateWebhookSecrets } from "../src/core/webhooks/rotate";
import { decryptSecret } from "../src/core/webhooks/signing";
import { TEST_KEYS } from "./support/harness";
import { createRefresca, type Refresca } from "../src/refresca";
import { deleteKeys, startHarness, type Harness } from "./support/harness";
import { waitFor } from "./support/wait";
import { uniqueName } from "./env";
import { startWorkerProcess, workerEnv } from "./support/processes";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

/** One request a receiver got: the three Standard Webhooks headers, the raw body, when. */
interface Received {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  at: number;
}

interface Receiver {
  url: string;
  port: number;
  received: Received[];
  /** The most requests it had open at once. */
  maxOpen: number;
  close(): Promise<void>;
}

/** A receiver on 127.0.0.1 that records every request and answers as `answer` says (200 by default). */
async function startReceiver(answer: (req: Received, res: http.ServerResponse, n: number) => void = (_r, res) => res.end("ok")): Promise<Receiver> {
  const received: Received[] = [];
  let open = 0;
  const receiver = { received, maxOpen: 0 } as Receiver;
  const server = http.createServer((req, res) => {
    open += 1;
    receiver.maxOpen = Math.max(receiver.maxOpen, open);
    res.on("close", () => (open -= 1));
    const chunks: Buffer[] = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => {
      const entry: Received = {
        id: String(req.headers["webhook-id"]),
        timestamp: String(req.headers["webhook-timestamp"]),
        signature: String(req.headers["webhook-signature"]),
        body: Buffer.concat(chunks).toString("utf8"),
        at: Date.now(),
      };
      received.push(entry);
      answer(entry, res, received.length);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  receiver.port = port;
  receiver.url = `http://127.0.0.1:${port}/hook`;
  receiver.close = () => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  };
  return receiver;
}

const typeOf = (entry: Received) => (JSON.parse(entry.body) as { type: string }).type;

/** The signature check of the Standard Webhooks specification, written from it with node:crypto alone. */
function verifiedByHand(secret: string, entry: Received): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = createHmac("sha256", key).update(`${entry.id}.${entry.timestamp}.${entry.body}`).digest();
  return entry.signature.split(" ").some((part) => {
    const [version, signature] = part.split(",");
    const given = Buffer.from(signature ?? "", "base64");
    return version === "v1" && given.length === expected.length && timingSafeEqual(given, expected);
  });
}

const FAST = {
  allowPrivate: true,
  scanIntervalMs: 100,
  dispatchIntervalMs: 50,
  retryBaseMs: 300,
  failingAfterMs: 500,
  leaseMs: 3000,
  timeoutMs: 2000,
};

let h: Harness;
const receivers: Receiver[] = [];
const receiver = async (answer?: Parameters<typeof startReceiver>[0]) => {
  const made = await startReceiver(answer);
  receivers.push(made);
  return made;
};

beforeAll(async () => {
  h = await startHarness({ refresca: { webhooks: FAST } });
  await h.refresca.startWorker();
});
afterAll(async () => {
  await h?.close();
  await Promise.all(receivers.map((r) => r.close()));
});

async function endpointFor(refresca: Refresca, tenantId: string, url: string, events?: string[]) {
  const added = await refresca.webhooks.add({ tenantId, url, ...(events && { events: events as never }) });
  if (!added.success) throw new Error(`${added.code}: ${added.error}`);
  return added;
}

describe("webhook events", () => {
  it("a revoked token produces exactly one signed channel.needs_reauth, verifiable, without a token in it", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 3600 });
    const r = await receiver();
    const { secret } = await endpointFor(h.refresca, tenantId, r.url);
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);

    await h.simulator.revoke(channel.refreshToken!);
    const refreshed = await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id });
    expect(refreshed).toMatchObject({ success: false, code: "INVALID_CREDENTIALS" });

    const [entry] = await waitFor("the needs_reauth event", async () => (r.received.length > 0 ? r.received : null));
    // More scans find the same episode: still one event.
    await h.refresca.internals.webhookRunner.scan();
    await h.refresca.internals.webhookRunner.scan();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(r.received).toHaveLength(1);

    const payload = new Webhook(secret).verify(entry!.body, {
      "webhook-id": entry!.id,
      "webhook-timestamp": entry!.timestamp,
      "webhook-signature": entry!.signature,
    }) as { type: string; timestamp: string; data: Record<string, unknown> };
    expect(verifiedByHand(secret, entry!)).toBe(true);
    expect(verifiedByHand(secret, { ...entry!, body: entry!.body.replace("needs_reauth", "needs_reauth ") })).toBe(false);
    expect(entry!.id).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(payload.type).toBe("channel.needs_reauth");
    expect(new Date(payload.timestamp).toISOString()).toBe(payload.timestamp);
    expect(payload.data).toMatchObject({
      tenantId,
      channelId: channel.id,
      channelType: "tiktok",
      displayName: "tiktok channel",
      localName: "@local",
      status: "needs_reauth",
      code: "INVALID_CREDENTIALS",
    });
    expect(typeof payload.data.error).toBe("string");
    for (const token of [channel.accessToken, channel.refreshToken!]) expect(entry!.body).not.toContain(token);
  });

  it("50 failed refreshes make one channel.refresh_failing, then one channel.recovered once it works again", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 3600 });
    const r = await receiver();
    await endpointFor(h.refresca, tenantId, r.url);
    await h.simulator.inject({ kind: "unavailable", platform: "tiktok", forSeconds: 4 });
    let failures = 0;
    for (let i = 0; i < 50; i += 1) {
      const answer = await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id });
      if (!answer.success) failures += 1;
    }
    expect(failures).toBe(50);
    await waitFor("refresh_failing", async () => r.received.some((entry) => typeOf(entry) === "channel.refresh_failing"));
    const recovered = await waitFor(
      "a refresh that works again",
      async () => (await h.refresca.refreshChannelToken({ tenantId, channelId: channel.id })).success,
      15_000,
    );
    expect(recovered).toBe(true);
    await waitFor("recovered", async () => r.received.some((entry) => typeOf(entry) === "channel.recovered"));
    await h.refresca.internals.webhookRunner.scan();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(r.received.map(typeOf)).toEqual(["channel.refresh_failing", "channel.recovered"]);
    const failing = JSON.parse(r.received[0]!.body);
    expect(failing.data).toMatchObject({ channelId: channel.id, status: "active", code: "PLATFORM_UNAVAILABLE" });
  });

  it("an endpoint of tenant A never receives tenant B's events, nor can A reach B's endpoint", async () => {
    const a = h.tenant();
    const b = h.tenant();
    const channelA = await h.addChannel({ tenantId: a, platform: "facebook", expiresInSeconds: 86_400 * 30 });
    const channelB = await h.addChannel({ tenantId: b, platform: "facebook", expiresInSeconds: 86_400 * 30 });
    const ra = await receiver();
    const rb = await receiver();
    await endpointFor(h.refresca, a, ra.url);
    const endpointB = await endpointFor(h.refresca, b, rb.url);
    await h.sql(`update channels set status = 'needs_reauth', last_error_code = 'INVALID_CREDENTIALS', last_error = 'Revoked.' where tenant_id = $1`, [b]);
    await waitFor("B's event", async () => rb.received.length > 0);
    await h.refresca.internals.webhookRunner.scan();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(ra.received).toHaveLength(0);
    expect(JSON.parse(rb.received[0]!.body).data).toMatchObject({ tenantId: b, channelId: channelB.id });
    expect(channelA.id).toBeDefined();
    const ref = { tenantId: a, endpointId: endpointB.endpoint.id };
    expect(await h.refresca.webhooks.get(ref)).toMatchObject({ success: false, code: "NOT_FOUND" });
    expect(await h.refresca.webhooks.remove(ref)).toMatchObject({ success: false, code: "NOT_FOUND" });
    expect(await h.refresca.webhooks.test(ref)).toMatchObject({ success: false, code: "NOT_FOUND" });
    expect(await h.refresca.webhooks.deliveries(ref)).toMatchObject({ success: false, code: "NOT_FOUND" });
  });

  it("a channel whose token cannot be refreshed and expires within 7 days gets one channel.expiring", async () => {
    const tenantId = h.tenant();
    const channel = await h.addChannel({ tenantId, platform: "tiktok", expiresInSeconds: 86_400 * 3, withoutRefreshToken: true });
    const r = await receiver();
    await endpointFor(h.refresca, tenantId, r.url, ["channel.expiring"]);
    await waitFor("expiring", async () => r.received.length > 0);
    await h.refresca.internals.webhookRunner.scan();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(r.received).toHaveLength(1);
    expect(JSON.parse(r.received[0]!.body)).toMatchObject({ type: "channel.expiring", data: { channelId: channel.id, code: "NO_REFRESH_TOKEN" } });
  });
});

describe("webhook delivery", () => {
  it("a receiver answering 500 gets retries with growing gaps and the same webhook-id, then a redelivery succeeds", async () => {
    const tenantId = h.tenant();
    await h.addChannel({ tenantId, platform: "facebook", expiresInSeconds: 86_400 * 30 });
    let failing = true;
    const r = await receiver((_entry, res) => {
      res.statusCode = failing ? 500 : 200;
      res.end(failing ? "down" : "ok");
    });
    const { endpoint } = await endpointFor(h.refresca, tenantId, r.url);
    const test = await h.refresca.webhooks.test({ tenantId, endpointId: endpoint.id });
    if (!test.success) throw new Error(test.error);
    await waitFor("four attempts", async () => r.received.length >= 4, 10_000);
    const gaps = r.received.slice(0, 4).map((entry, i, all) => (i === 0 ? 0 : entry.at - all[i - 1]!.at)).slice(1);
    expect(gaps[0]).toBeGreaterThanOrEqual(200);
    expect(gaps[1]).toBeGreaterThan(gaps[0]!);
    expect(gaps[2]).toBeGreaterThan(gaps[1]!);
    expect(new Set(r.received.map((entry) => entry.id))).toEqual(new Set([test.eventId]));

    const log = await h.refresca.webhooks.deliveries({ tenantId, endpointId: endpoint.id });
    if (!log.success) throw new Error(log.error);
    expect(log.deliveries[0]).toMatchObject({ id: test.deliveryId, type: "webhook.test", lastStatus: 500, response: "down" });
    expect(log.deliveries[0]!.attempts).toBeGreaterThanOrEqual(4);

    failing = false;
    const seen = r.received.length;
    await waitFor("the delivery not being sent right now", async () => {
      const again = await h.refresca.webhooks.redeliver({ tenantId, endpointId: endpoint.id, deliveryId: test.deliveryId });
      return again.success;
    });
    await waitFor("the redelivery", async () => r.received.length > seen);
    expect(r.received.at(-1)!.id).toBe(test.eventId);
    await waitFor("the delivery to be recorded as succeeded", async () => {
      const after = await h.refresca.webhooks.deliveries({ tenantId, endpointId: endpoint.id });
      return after.success && after.deliveries[0]!.state === "succeeded" && after.deliveries[0]!.lastStatus === 200;
    });
  });

  it("does not follow redirects, and stores only the first 1 kB of an answer", async () => {
    const tenantId = h.tenant();
    await h.addChannel({ tenantId, platform: "facebook", expiresInSeconds: 86_400 * 30 });
    const target = await receiver();
    const redirecting = await receiver((_entry, res) => {
      res.writeHead(307, { location: target.url });
      res.end();
    });
    const chatty = await receiver((_entry, res) => res.end("é".repeat(3000)));
    const viaRedirect = await endpointFor(h.refresca, tenantId, redirecting.url);
    const big = await endpointFor(h.refresca, tenantId, chatty.url);
    await h.refresca.webhooks.test({ tenantId, endpointId: viaRedirect.endpoint.id });
    await h.refresca.webhooks.test({ tenantId, endpointId: big.endpoint.id });
    await waitFor("both attempts", async () => redirecting.received.length > 0 && chatty.received.length > 0);
    const redirected = await waitFor("the redirect's outcome", async () => {
      const log = await h.refresca.webhooks.deliveries({ tenantId, endpointId: viaRedirect.endpoint.id });
      return log.success && log.deliveries[0]!.lastStatus !== null ? log.deliveries[0] : null;
    });
    expect(redirected).toMatchObject({ lastStatus: 307, state: "pending" });
    expect(redirected.error).toMatch(/redirect/);
    expect(target.received).toHaveLength(0);
    const stored = await waitFor("the big answer's outcome", async () => {
      const log = await h.refresca.webhooks.deliveries({ tenantId, endpointId: big.endpoint.id });
      return log.success && log.deliveries[0]!.state === "succeeded" ? log.deliveries[0] : null;
    });
    expect(Buffer.byteLength(stored.response!)).toBeLessThanOrEqual(1024 + 3);
    expect(stored.response!.length).toBeGreaterThan(400);
  });

  it("secrets are never in logs, payloads, list answers or the database in clear", async () => {
    const tenantId = h.tenant();
    await h.addChannel({ tenantId, platform: "facebook", expiresInSeconds: 86_400 * 30 });
    const r = await receiver();
    const { secret, endpoint } = await endpointFor(h.refresca, tenantId, r.url);
    await h.refresca.webhooks.test({ tenantId, endpointId: endpoint.id });
    await waitFor("the test event", async () => r.received.length > 0);
    const bare = secret.slice("whsec_".length);
    const listed = JSON.stringify(await h.refresca.webhooks.list({ tenantId }));
    const got = JSON.stringify(await h.refresca.webhooks.get({ tenantId, endpointId: endpoint.id }));
    const stored = JSON.stringify(await h.sql(`select * from webhook_endpoints where tenant_id = $1`, [tenantId]));
    for (const text of [h.logs.join("\n"), listed, got, stored, ...r.received.map((entry) => entry.body)]) {
      expect(text).not.toContain(bare);
    }
    expect(listed).toContain(endpoint.id);
  });
});

describe("webhook safety", () => {
  let strict: Refresca;
  let strictSchema: string;
  beforeAll(async () => {
    // Its own schema: the harness's worker (private addresses allowed) must not take its deliveries.
    strictSchema = uniqueName("t");
    strict = await createRefresca({ ...h.options, schema: strictSchema, logger: createLogger({ level: "silent" }), webhooks: { ...FAST, allowPrivate: false } });
    strict.internals.webhookRunner.start();
  });
  afterAll(async () => {
    await strict?.close();
    await h.sql(`drop schema if exists "${strictSchema}" cascade`);
  });

  it("refuses http and private addresses when the endpoint is saved", async () => {
    const tenantId = h.tenant();
    await strict.internals.store.tenants.ensure(tenantId);
    for (const url of [
      "http://127.0.0.1:8080/hook",
      "http://hooks.example.com/x",
      "https://127.0.0.1/hook",
      "https://10.1.2.3/hook",
      "https://169.254.169.254/latest/meta-data",
      "https://[::1]/hook",
      "https://[::ffff:127.0.0.1]/hook",
      "https://user:pw@hooks.example.com/x",
    ]) {
      const answer = await strict.webhooks.add({ tenantId, url });
      expect({ url, answer }).toMatchObject({ url, answer: { success: false, code: "INVALID_INPUT" } });
      expect((answer as { error: string }).error).toContain("url");
    }
    expect(await strict.webhooks.add({ tenantId, url: "https://hooks.example.com/refresca" })).toMatchObject({ success: true });
  });

  it("refuses at delivery time a host name that resolves to a private address", async () => {
    const tenantId = h.tenant();
    await strict.internals.store.tenants.ensure(tenantId);
    const r = await receiver();
    const added = await strict.webhooks.add({ tenantId, url: `https://localhost:${r.port}/hook` });
    if (!added.success) throw new Error(added.error);
    const test = await strict.webhooks.test({ tenantId, endpointId: added.endpoint.id });
    if (!test.success) throw new Error(test.error);
    const outcome = await waitFor("the refused attempt", async () => {
      const log = await strict.webhooks.deliveries({ tenantId, endpointId: added.endpoint.id });
      return log.success && log.deliveries[0]!.error ? log.deliveries[0] : null;
    });
    expect(outcome.error).toMatch(/not a public address/);
    expect(r.received).toHaveLength(0);
  });

  it("judges addresses as public or not, IPv4-mapped forms included", () => {
    for (const address of ["127.0.0.1", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "::1", "fc00::1", "fe80::1", "::ffff:10.0.0.1", "::ffff:169.254.169.254"]) {
      expect({ address, public: isPublicAddress(address) }).toEqual({ address, public: false });
    }
    for (const address of ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]) {
      expect({ address, public: isPublicAddress(address) }).toEqual({ address, public: true });
    }
  });
});

describe("webhook recovery", () => {
  it("a delivery cut off with its worker (and its Redis keys flushed) is sent by another worker, with the same webhook-id", async () => {
    const own = await startHarness({ refresca: { webhooks: { ...FAST, leaseMs: 1500, timeoutMs: 10_000 } } });
    let later: Refresca | undefined;
    try {
      const tenantId = own.tenant();
      await own.addChannel({ tenantId, platform: "facebook", expiresInSeconds: 86_400 * 30 });
      let hang = true;
      const r = await receiver((_entry, res) => {
        if (hang) return; // never answers: the attempt is in flight when its worker dies
        res.end("ok");
      });
      const { endpoint } = await endpointFor(own.refresca, tenantId, r.url);
      const first = own.refresca.internals.webhookRunner;
      first.start();
      const test = await own.refresca.webhooks.test({ tenantId, endpointId: endpoint.id });
      if (!test.success) throw new Error(test.error);
      await waitFor("the first attempt in flight", async () => r.received.length === 1);
      await first.abandon();
      await deleteKeys(own.keyPrefix);
      hang = false;
      later = await createRefresca({ ...own.options, logger: createLogger({ level: "silent" }) });
      later.internals.webhookRunner.start();
      await waitFor("the second attempt", async () => r.received.length >= 2, 15_000);
      expect(r.received[1]!.id).toBe(test.eventId);
      await waitFor("the delivery recorded as succeeded", async () => {
        const log = await later!.webhooks.deliveries({ tenantId, endpointId: endpoint.id });
        return log.success && log.deliveries[0]!.state === "succeeded";
      });
    } finally {
      await later?.close();
      await own.close();
    }
  });
});

describe("webhook recovery after kill -9", () => {
  it("a worker process killed mid-delivery leaves a lease; once it runs out another worker delivers, same webhook-id", async () => {
    const own = await startHarness({ refresca: { webhooks: FAST } });
    try {
      const tenantId = own.tenant();
      await own.addChannel({ tenantId, platform: "facebook", expiresInSeconds: 86_400 * 30 });
      let hang = true;
      const r = await receiver((_entry, res) => {
        if (!hang) res.end("ok");
      });
      const { endpoint } = await endpointFor(own.refresca, tenantId, r.url);
      const worker = await startWorkerProcess(workerEnv(own, { REFRESCA_WEBHOOKS_ALLOW_PRIVATE: "true" }));
      try {
        const test = await own.refresca.webhooks.test({ tenantId, endpointId: endpoint.id });
        if (!test.success) throw new Error(test.error);
        await waitFor("the worker process's attempt in flight", async () => r.received.length === 1);
        await worker.stop("SIGKILL");
        await deleteKeys(own.keyPrefix);
        hang = false;
        own.refresca.internals.webhookRunner.start();
        // The killed worker's claim holds a 30 s lease (the default): the delivery is due again when it runs out.
        await waitFor("the attempt after the lease", async () => r.received.length >= 2, 50_000);
        expect(r.received[1]!.id).toBe(test.eventId);
        await waitFor("the delivery recorded as succeeded", async () => {
          const log = await own.refresca.webhooks.deliveries({ tenantId, endpointId: endpoint.id });
          return log.success && log.deliveries[0]!.state === "succeeded" && log.deliveries[0]!.attempts === 2;
        });
      } finally {
        await worker.stop();
      }
    } finally {
      await own.close();
    }
  }, 90_000);
});

describe("refresca webhooks (command line)", () => {
  it("adds an endpoint printing only its secret on stdout, lists it without the secret, sends a test, removes it", async () => {
    const run = promisify(execFile);
    const env = workerEnv(h, { REFRESCA_WEBHOOKS_ALLOW_PRIVATE: "true", LOG_LEVEL: "error" });
    const cli = async (...args: string[]) => (await run(process.execPath, ["bin/refresca.js", "webhooks", ...args], { env })).stdout;
    const tenantId = h.tenant();
    await h.addChannel({ tenantId, platform: "facebook", expiresInSeconds: 86_400 * 30 });
    const r = await receiver();
    const secret = (await cli("add", "--tenant", tenantId, "--url", r.url, "--events", "channel.needs_reauth,channel.recovered")).trim();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const listed = JSON.parse(await cli("list", "--tenant", tenantId, "--json"));
    expect(listed).toMatchObject([{ url: r.url, events: ["channel.needs_reauth", "channel.recovered"], enabled: true }]);
    expect(JSON.stringify(listed)).not.toContain(secret.slice(6));
    expect(await cli("test", listed[0].id)).toContain("Queued test event");
    const [entry] = await waitFor("the test event", async () => (r.received.length > 0 ? r.received : null));
    expect(typeOf(entry!)).toBe("webhook.test");
    expect(verifiedByHand(secret, entry!)).toBe(true);
    expect(await cli("remove", listed[0].id)).toContain("Removed");
    expect(JSON.parse(await cli("list", "--tenant", tenantId, "--json"))).toEqual([]);
  }, 60_000);
});

describe("webhook endpoints over time", () => {
  it("an endpoint whose deliveries keep failing past the threshold is disabled, with a notice", async () => {
    const schema = uniqueName("t");
    const own = await createRefresca({
      ...h.options,
      schema,
      logger: createLogger({ level: "silent" }),
      webhooks: { ...FAST, retryBaseMs: 100, disableAfterMs: 400 },
    });
    try {
      const tenantId = h.tenant();
      await own.internals.store.tenants.ensure(tenantId);
      const r = await receiver((_entry, res) => {
        res.statusCode = 503;
        res.end("down");
      });
      const { endpoint } = await endpointFor(own, tenantId, r.url);
      own.internals.webhookRunner.start();
      await own.webhooks.test({ tenantId, endpointId: endpoint.id });
      const disabled = await waitFor("the endpoint disabled", async () => {
        const got = await own.webhooks.get({ tenantId, endpointId: endpoint.id });
        return got.success && !got.endpoint.enabled ? got.endpoint : null;
      });
      expect(disabled.disabledReason).toMatch(/failed for 3 days/);
      expect(disabled.failingSince).not.toBeNull();
      const enabled = await own.webhooks.update({ tenantId, endpointId: endpoint.id, enabled: true });
      expect(enabled).toMatchObject({ success: true, endpoint: { enabled: true, disabledReason: null, failingSince: null } });
    } finally {
      await own.close();
      await h.sql(`drop schema if exists "${schema}" cascade`);
    }
  });

  it("keys rotate re-encrypts signing secrets with the new first key", async () => {
    const tenantId = h.tenant();
    await h.addChannel({ tenantId, platform: "facebook", expiresInSeconds: 86_400 * 30 });
    const { endpoint, secret } = await endpointFor(h.refresca, tenantId, "https://hooks.example.com/rotate");
    const rotated = await createRefresca({
      ...h.options,
      encryptionKeys: `k2:${Buffer.alloc(32, 9).toString("base64")},${TEST_KEYS}`,
      logger: createLogger({ level: "silent" }),
    });
    try {
      const result = await rotateWebhookSecrets(rotated.internals.store.webhooks, rotated.internals.keyRing);
      expect(result.unreadable).toEqual([]);
      expect(result.reencrypted).toBeGreaterThanOrEqual(1);
      const [row] = await h.sql(`select key_id, secret from webhook_endpoints where id = $1`, [endpoint.id]);
      expect(row.key_id).toBe("k2");
      expect(decryptSecret(rotated.internals.keyRing, tenantId, endpoint.id, row.secret)).toBe(secret);
    } finally {
      await rotated.close();
    }
  });
});
