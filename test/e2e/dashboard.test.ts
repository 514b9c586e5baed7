import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoChannels } from "../../src/demo/seed";
import { ensureWebBuild } from "../../src/launcher/build-web";
import { freePort } from "../../src/launcher/local-redis";
import { startWebProcess, type WebProcess } from "../../src/launcher/web-process";
import { SIM_META_APP_ID, SIM_META_APP_SECRET, SIM_TIKTOK_CLIENT_KEY, SIM_TIKTOK_CLIENT_SECRET, simulatorUrlEnv } from "../../src/simulator";
import { PROJECT_DIR } from "../../src/web/serve";
import { TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName } from "../env";
import { launchBrowser } from "../support/browser";
import { ACME, startHarness, TEST_KEYS, withConfiguredProvider, type Harness } from "../support/harness";

// The built app served by `refresca web` (the production server), on its own schema and Redis prefix, against the
// machine's PostgreSQL and Redis and the simulator over HTTP, driven by a real Chromium.

let h: Harness;
let web: WebProcess;
let browser: Browser;
let baseUrl: string;
const tenantA = uniqueName("acme");
const tenantB = uniqueName("globex");
const keys: Record<string, string> = {};
const sessionSecret = randomBytes(32).toString("base64url");
const adminKey = randomBytes(32).toString("base64url");
/** Every response body the browser received, with its URL: searched for secrets at the end. */
const responses: Array<{ url: string; body: string }> = [];
const reading: Array<Promise<void>> = [];
let providersDir: string;
let seeded = 0;

beforeAll(async () => {
  await ensureWebBuild();
  // Tokens live an hour at the "platform": a refresh moves a 3-minute expiry by about an hour.
  // Besides the built-in platforms, a provider configured by data ("acme"), as a product would add one.
  h = await startHarness(withConfiguredProvider({ simulator: { tiktok: { accessLifetimeSeconds: 3600 } } }));
  for (const channel of await demoChannels(h.simulator, tenantA)) {
    const saved = await h.refresca.channels.upsert(channel);
    if (!saved.success) throw new Error(saved.error);
    seeded += 1;
  }
  await h.addConfiguredChannel({ tenantId: tenantA, id: "acme-brand", displayName: "Acme Brand", expiresInSeconds: 600 });
  seeded += 1;
  providersDir = await mkdtemp(path.join(tmpdir(), "refresca-providers-"));
  const providersFile = path.join(providersDir, "providers.json");
  const { clientId: _id, clientSecret: _secret, ...acme } = h.options.providers![0]!;
  await writeFile(providersFile, JSON.stringify({ providers: [{ ...acme, clientIdEnv: "ACME_CLIENT_ID", clientSecretEnv: "ACME_CLIENT_SECRET" }] }));
  await h.addChannel({ tenantId: tenantB, platform: "tiktok", id: "b-tiktok", expiresInSeconds: 300 });
  for (const tenantId of [tenantA, tenantB]) {
    const answer = await h.refresca.tenants.issueApiKey({ tenantId });
    if (!answer.success) throw new Error(answer.error);
    keys[tenantId] = answer.apiKey;
  }
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  web = await startWebProcess({
    url: baseUrl,
    stdio: "capture",
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: TEST_DATABASE_URL,
      REFRESCA_DB_SCHEMA: h.schema,
      REFRESCA_KEY_PREFIX: h.keyPrefix,
      REDIS_URL: TEST_REDIS_URL,
      REFRESCA_ENCRYPTION_KEYS: TEST_KEYS,
      REFRESCA_SESSION_SECRET: sessionSecret,
      REFRESCA_ADMIN_KEY: adminKey,
      ...simulatorUrlEnv(h.simulator.url),
      META_APP_ID: SIM_META_APP_ID,
      META_APP_SECRET: SIM_META_APP_SECRET,
      TIKTOK_CLIENT_KEY: SIM_TIKTOK_CLIENT_KEY,
      TIKTOK_CLIENT_SECRET: SIM_TIKTOK_CLIENT_SECRET,
      REFRESCA_PROVIDERS_FILE: providersFile,
      ACME_CLIENT_ID: ACME.clientId,
      ACME_CLIENT_SECRET: ACME.clientSecret,
      PORT: String(port),
      HOST: "127.0.0.1",
      LOG_LEVEL: "debug",
    },
  });
  browser = await launchBrowser();
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await web?.stop();
  await h?.close();
  if (providersDir) await rm(providersDir, { recursive: true, force: true });
});

async function newContext(): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1360, height: 1000 } });
  context.on("response", (response) => {
    reading.push(
      response
        .body()
        .then((body) => void responses.push({ url: response.url(), body: body.toString("utf8") }))
        .catch(() => {}), // redirects and aborted requests have no body
    );
  });
  return context;
}

async function signIn(page: Page, key: string): Promise<void> {
  await page.goto(`${baseUrl}/signin`);
  await page.fill("#key", key);
  await page.click("button[type=submit]");
  await page.waitForURL(`${baseUrl}/`);
}

/** Calls a server action from the page the way the app's client code does: a POST with its id, the cookie, the origin. */
async function callAction(page: Page, pagePath: string, exportedName: string, args: unknown[]): Promise<Record<string, unknown>> {
  const manifest = JSON.parse(await readFile(path.join(PROJECT_DIR, ".next/server/server-reference-manifest.json"), "utf8")) as {
    node: Record<string, { exportedName: string; filename: string }>;
  };
  const actionId = Object.entries(manifest.node).find(
    ([, entry]) => entry.exportedName === exportedName && entry.filename.startsWith("src/app/actions/"),
  )?.[0];
  if (!actionId) throw new Error(`no server action ${exportedName} in the build`);
  const text = await page.evaluate(
    async ({ url, actionId, body }) => {
      const response = await fetch(url, {
        method: "POST",
        headers: { "next-action": actionId, "content-type": "text/plain;charset=UTF-8", accept: "text/x-component" },
        body,
      });
      return response.text();
    },
    { url: `${baseUrl}${pagePath}`, actionId, body: JSON.stringify(args) },
  );
  // The answer is React's flight format: one JSON value per line, `<row id>:<json>`. The action's return value is
  // the object with a `success` field.
  for (const line of text.split("\n")) {
    const json = line.slice(line.indexOf(":") + 1);
    if (!json.startsWith("{")) continue;
    const value = JSON.parse(json) as Record<string, unknown>;
    if ("success" in value) return value;
  }
  throw new Error(`no action answer in: ${text.slice(0, 500)}`);
}

describe("the dashboard in a browser", () => {
  let page: Page;

  beforeAll(async () => {
    page = await (await newContext()).newPage();
  });

  it("refuses a wrong key and stays on the sign-in page without a session", async () => {
    await page.goto(`${baseUrl}/`);
    expect(page.url()).toBe(`${baseUrl}/signin`);
    await page.fill("#key", `rk_${randomBytes(32).toString("base64url")}`);
    await page.click("button[type=submit]");
    await expect.poll(() => page.locator(".signin-form [role=alert]").textContent()).toContain("This key is not valid.");
    expect(page.url()).toBe(`${baseUrl}/signin`);
    expect((await page.context().cookies()).map((cookie) => cookie.name)).not.toContain("refresca_session");
  });

  it("signs in with the tenant's key into an httpOnly, SameSite=Lax session and shows its statistics", async () => {
    await signIn(page, keys[tenantA]!);
    const cookie = (await page.context().cookies()).find((c) => c.name === "refresca_session");
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Lax", secure: false });
    const expected = await h.refresca.getRefreshStatistics({ tenantId: tenantA });
    if (!expected.success) throw new Error(expected.error);
    const stat = (name: string) => page.locator(`[data-stat=${name}] .stat-value`).textContent();
    expect(await stat("totalChannels")).toBe(String(seeded));
    expect(await stat("channelsNeedingRefresh")).toBe(String(expected.statistics.channelsNeedingRefresh));
    expect(await stat("expiredChannels")).toBe(String(expected.statistics.expiredChannels));
    expect(await page.locator("[data-bar=expired] .bar-value").textContent()).toBe(String(expected.statistics.expiredChannels));
    expect(await page.locator("[data-testid=job-status]").isVisible()).toBe(true);
  });

  it("refreshes a channel with “Refresh now” and shows its expiry move", async () => {
    await page.goto(`${baseUrl}/channels`);
    const row = page.locator("tr[data-channel-id=tiktok-shop]");
    const before = Date.parse((await row.locator("[data-expires-at]").getAttribute("data-expires-at"))!);
    expect(before - Date.now()).toBeLessThan(4 * 60_000);
    await row.getByRole("button", { name: "Refresh now" }).click();
    await expect.poll(() => row.locator("[role=status]").textContent(), { timeout: 15_000 }).toContain("Refreshed");
    await expect
      .poll(async () => Date.parse((await row.locator("[data-expires-at]").getAttribute("data-expires-at"))!), { timeout: 15_000 })
      .toBeGreaterThan(before + 50 * 60_000);
    expect(await row.locator(".expiry").textContent()).toMatch(/^in (59|60) min|^in 1 h/);
  });

  it("shows a failed refresh's sentence and code", async () => {
    const row = page.locator("tr[data-channel-id=tiktok-revoked]");
    await row.getByRole("button", { name: "Refresh now" }).click();
    await expect.poll(() => row.locator("[role=status]").textContent(), { timeout: 15_000 }).toContain("(INVALID_CREDENTIALS)");
    await expect.poll(() => row.locator(".badge").textContent()).toBe("Needs reconnecting");
  });

  it("filters, sorts and pages the channel list on the server", async () => {
    await page.goto(`${baseUrl}/channels?platform=instagram&sort=displayName&dir=desc`);
    const ids = await page.locator("tbody tr").evaluateAll((rows) => rows.map((row) => row.getAttribute("data-channel-id")));
    expect(ids).toEqual(["instagram-store", "instagram-new", "instagram-main"]);
    await page.goto(`${baseUrl}/channels?q=whatsapp`);
    expect(await page.locator("tbody tr").count()).toBe(3);
    await page.goto(`${baseUrl}/channels?q=no-such-channel`);
    expect(await page.getByText("No channel matches these filters.").isVisible()).toBe(true);
  });

  it("treats a configured provider's channels like the built-ins: filter, badge, refresh, platform breakdown", async () => {
    await page.goto(`${baseUrl}/channels`);
    const options = await page.locator("select[name=platform] option").allTextContents();
    expect(options).toEqual(expect.arrayContaining(["Instagram", "TikTok", ACME.displayName]));
    await page.goto(`${baseUrl}/channels?platform=acme`);
    const ids = await page.locator("tbody tr").evaluateAll((rows) => rows.map((row) => row.getAttribute("data-channel-id")));
    expect(ids).toEqual(["acme-brand"]);
    const row = page.locator("tr[data-channel-id=acme-brand]");
    expect(await row.locator("[data-platform=acme]").textContent()).toBe(ACME.displayName);
    const calls = h.simulator.oauth2.stats().calls.acme ?? 0;
    await row.getByRole("button", { name: "Refresh now" }).click();
    await expect.poll(() => row.locator("[role=status]").textContent(), { timeout: 15_000 }).toContain("Refreshed");
    expect(h.simulator.oauth2.stats().calls.acme).toBe(calls + 1);
    await page.goto(`${baseUrl}/`);
    const breakdown = page.locator("[data-platform-row=acme]");
    expect(await breakdown.locator("[data-count=channels]").textContent()).toBe("1");
    expect(await breakdown.locator("[data-platform=acme]").textContent()).toBe(ACME.displayName);
    await breakdown.getByRole("link").click();
    await page.waitForURL(`${baseUrl}/channels?platform=acme`);
  });

  it("schedules one refresh with a delay, and the job figures update without a reload", async () => {
    await page.goto(`${baseUrl}/`);
    const delayed = page.locator("[data-testid=job-status] .job", { hasText: "Delayed" }).locator("dd");
    const before = Number(await delayed.textContent());
    // From a second tab, as if someone else scheduled it: this tab must see it by polling.
    const other = await page.context().newPage();
    await other.goto(`${baseUrl}/channels?q=facebook-events`);
    const row = other.locator("tr[data-channel-id=facebook-events]");
    await row.getByText("Later…").click();
    await row.getByLabel("Delay in minutes").fill("45");
    await row.getByRole("button", { name: "Schedule" }).click();
    await expect.poll(() => row.locator("[role=status]").textContent(), { timeout: 15_000 }).toContain("Scheduled for");
    await other.close();
    await expect.poll(async () => Number(await delayed.textContent()), { timeout: 15_000 }).toBe(before + 1);
  });

  it("sets and cancels the recurring schedule", async () => {
    await page.goto(`${baseUrl}/`);
    const current = page.locator("[data-testid=recurring-current]");
    expect(await current.textContent()).toContain("No recurring refresh");
    await page.getByLabel("Interval in minutes").fill("45");
    await page.getByRole("button", { name: "Set", exact: true }).click();
    await expect.poll(() => current.textContent(), { timeout: 15_000 }).toContain("Every 45 min");
    const set = await h.refresca.getRecurringTokenRefresh({ tenantId: tenantA });
    expect(set).toMatchObject({ success: true, schedule: { intervalMinutes: 45 } });

    await page.getByRole("button", { name: "Cancel recurring refresh" }).click();
    await expect.poll(() => current.textContent(), { timeout: 15_000 }).toContain("No recurring refresh");
    expect(await page.getByText("Recurring refresh cancelled.").isVisible()).toBe(true);
    expect(await h.refresca.getRecurringTokenRefresh({ tenantId: tenantA })).toEqual({ success: true, schedule: null });
  });

  it("answers FORBIDDEN when tenant A's session acts for tenant B, and touches nothing", async () => {
    await page.goto(`${baseUrl}/channels`);
    const callsBefore = (await h.simulator.stats()).totalCalls;
    const versionBefore = (await h.refresca.internals.store.channels.find(tenantB, "b-tiktok"))!.version;

    const foreign = await callAction(page, "/channels", "refreshChannelToken", [{ tenantId: tenantB, channelId: "b-tiktok" }]);
    expect(foreign).toEqual({ success: false, code: "FORBIDDEN", error: expect.any(String) });
    const scheduled = await callAction(page, "/channels", "scheduleChannelTokenRefresh", [{ tenantId: tenantB, channelId: "b-tiktok", delayMinutes: 1 }]);
    expect(scheduled).toMatchObject({ success: false, code: "FORBIDDEN" });
    const jobs = await page.evaluate(async (url) => (await fetch(url)).status, `${baseUrl}/api/jobs?tenantId=${tenantB}`);
    expect(jobs).toBe(403);

    expect((await h.simulator.stats()).totalCalls).toBe(callsBefore);
    expect((await h.refresca.internals.store.channels.find(tenantB, "b-tiktok"))!.version).toBe(versionBefore);
    // Nothing was queued for B: its plan lives in SQL (the version check above), and the refused schedule added no job.
    expect(await h.refresca.getTokenRefreshJobsStatus({ tenantId: tenantB })).toMatchObject({ jobsWaiting: 0, jobsDelayed: 0 });

    // The same call for its own tenant goes through: the refusal above is the membership check, not a broken call.
    const own = await callAction(page, "/channels", "refreshChannelToken", [{ tenantId: tenantA, channelId: "tiktok-brand" }]);
    expect(own).toMatchObject({ success: true, channelId: "tiktok-brand" });
    expect(Object.keys(own).sort()).toEqual(["channelId", "newExpiresAt", "refreshedAt", "success"]);
  });

  it("answers UNAUTHORIZED to an action call without a session", async () => {
    const stranger = await (await newContext()).newPage();
    await stranger.goto(`${baseUrl}/signin`);
    const answer = await callAction(stranger, "/channels", "refreshChannelToken", [{ tenantId: tenantA, channelId: "tiktok-brand" }]);
    expect(answer).toMatchObject({ success: false, code: "UNAUTHORIZED" });
    await stranger.context().close();
  });

  it("lets the admin key pick any tenant", async () => {
    const admin = await (await newContext()).newPage();
    await signIn(admin, adminKey);
    await admin.getByRole("link", { name: tenantB }).click();
    await admin.waitForURL(`${baseUrl}/?tenant=${tenantB}`);
    expect(await admin.locator("[data-stat=totalChannels] .stat-value").textContent()).toBe("1");
    await admin.getByRole("link", { name: "Channels" }).click();
    await admin.waitForURL(`${baseUrl}/channels?tenant=${tenantB}`);
    expect(await admin.locator("tbody tr").count()).toBe(1);
    await admin.context().close();
  });

  it("makes, shows once, lists and revokes REST API keys on the keys page; another tenant's are out of reach", async () => {
    const ofA = await h.refresca.apiKeys.create({ name: "A's backend", tenantId: tenantA });
    const ofB = await h.refresca.apiKeys.create({ name: "B's backend", tenantId: tenantB });
    if (!ofA.success || !ofB.success) throw new Error("could not create the API keys");
    // Checked by the last test: a listed key is never sent to the browser.
    keys.restA = ofA.apiKey;
    keys.restB = ofB.apiKey;

    await page.goto(`${baseUrl}/`);
    await page.getByRole("link", { name: "API keys" }).click();
    await page.waitForURL(`${baseUrl}/keys`);
    const rows = page.locator("[data-testid=api-keys] tbody tr");
    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-key-id")))).toEqual([ofA.key.id]);

    await page.getByLabel("Key name").fill("From the dashboard");
    await page.getByRole("checkbox", { name: "tokens:read" }).check();
    await page.getByRole("button", { name: "Create key" }).click();
    const shown = page.locator("[data-testid=new-api-key-value]");
    await expect.poll(() => shown.textContent(), { timeout: 15_000 }).toMatch(/^rka_[A-Za-z0-9_-]{43}$/);
    const made = (await shown.textContent())!;
    expect(await page.getByText("it will not be shown again").isVisible()).toBe(true);
    const principal = await h.refresca.apiKeys.authenticate(made);
    expect(principal).toMatchObject({ name: "From the dashboard", tenantId: tenantA });
    expect(principal?.scopes).toContain("tokens:read");
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(2);
    await page.reload();
    expect(await page.content()).not.toContain(made);

    const row = page.locator(`tr[data-key-id=${principal!.keyId}]`);
    await row.getByText("Revoke…").click();
    await row.getByRole("button", { name: "Revoke key" }).click();
    await expect.poll(() => row.locator(".badge", { hasText: "Revoked" }).count(), { timeout: 15_000 }).toBe(1);
    expect(await h.refresca.apiKeys.authenticate(made)).toBeNull();

    // Tenant A's session, acting for B or for every tenant: FORBIDDEN; under its own id, B's key is not found.
    expect(await callAction(page, "/keys", "revokeApiKey", [{ tenantId: tenantB, id: ofB.key.id }])).toMatchObject({ code: "FORBIDDEN" });
    expect(await callAction(page, "/keys", "createApiKey", [{ tenantId: "*", name: "sneaky", scopes: ["tokens:read"] }])).toMatchObject({ code: "FORBIDDEN" });
    expect(await callAction(page, "/keys", "revokeApiKey", [{ tenantId: tenantA, id: ofB.key.id }])).toMatchObject({ code: "NOT_FOUND" });
    expect(await h.refresca.apiKeys.authenticate(ofB.apiKey)).not.toBeNull();
    expect(web.output()).not.toContain(made);

    // The admin sees every key and may make one for every tenant.
    const admin = await (await newContext()).newPage();
    await signIn(admin, adminKey);
    await admin.goto(`${baseUrl}/keys`);
    const listed = await admin.locator("[data-testid=api-keys] tbody tr").evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-key-id")));
    expect(listed).toEqual(expect.arrayContaining([ofA.key.id, ofB.key.id, principal!.keyId]));
    expect(await admin.getByLabel("Valid for").inputValue()).toBe("*");
    await admin.context().close();
  });

  it("signs out, and the old session cookie no longer opens the dashboard", async () => {
    await page.goto(`${baseUrl}/`);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(`${baseUrl}/signin`);
    await page.goto(`${baseUrl}/channels`);
    expect(page.url()).toBe(`${baseUrl}/signin`);
  });

  it("ends the sessions of a key that was replaced", async () => {
    const context = await newContext();
    const tab = await context.newPage();
    await signIn(tab, keys[tenantB]!);
    const reissued = await h.refresca.tenants.issueApiKey({ tenantId: tenantB });
    if (!reissued.success) throw new Error(reissued.error);
    keys.reissued = reissued.apiKey;
    await tab.goto(`${baseUrl}/`);
    expect(tab.url()).toBe(`${baseUrl}/signin`);
    await context.close();
  });

  it("locks an address out after repeated failed sign-ins, even for a right key", async () => {
    const context = await newContext();
    const tab = await context.newPage();
    const alert = tab.locator(".signin-form [role=alert]");
    const attempt = async (key: string) => {
      await tab.goto(`${baseUrl}/signin`);
      await tab.fill("#key", key);
      await tab.click("button[type=submit]");
      await alert.waitFor();
      return alert.textContent();
    };
    for (let failures = 1; failures < 5; failures++) expect(await attempt(`wrong-${failures}`)).toBe("This key is not valid.");
    expect(await attempt("wrong-5")).toMatch(/Too many failed sign-ins: try again in 15 seconds/);
    expect(await attempt(keys[tenantA]!)).toMatch(/Too many failed sign-ins from your address\. Try again in \d+ seconds\./);
    expect(tab.url()).toBe(`${baseUrl}/signin`);
    await context.close();
  });

  it("never sent a token, key or secret to the browser, nor logged one", async () => {
    await Promise.all(reading);
    const secrets = [
      ...(await h.simulator.issuedTokens()),
      ...Object.values(keys),
      adminKey,
      sessionSecret,
      TEST_KEYS.split(":")[1]!,
    ];
    expect(secrets.length).toBeGreaterThan(20);
    const kinds = new Set(responses.map(({ url }) => new URL(url).pathname.split("/")[1]));
    expect(kinds).toContain("channels"); // pages and RSC payloads
    expect(kinds).toContain("_next"); // scripts
    // The bodies are the real pages: the seeded channels are in them, their tokens are not.
    expect(responses.some(({ body }) => body.includes("tiktok-shop"))).toBe(true);
    for (const { url, body } of responses) {
      for (const secret of secrets) {
        if (body.includes(secret)) throw new Error(`a secret was sent to the browser in ${url}`);
      }
    }
    const logs = web.output();
    expect(logs).toContain("dashboard sign-in");
    for (const secret of secrets) expect(logs.includes(secret), "a secret was logged").toBe(false);
  });
});
