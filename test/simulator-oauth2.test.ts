import { afterEach, describe, expect, it } from "vitest";
import { basicAuthorization } from "../src/core/providers/oauth2";
import { connectSimulator, startSimulator, type Simulator } from "../src/simulator";

const running: Simulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((sim) => sim.close()));
});

async function start(rotate = true): Promise<Simulator> {
  const sim = await startSimulator({ oauth2: { acme: { clientId: "id", clientSecret: "s e:cret", rotate } } });
  running.push(sim);
  return sim;
}

async function refresh(sim: Simulator, refreshToken: string, secret = "s e:cret") {
  const response = await fetch(sim.oauth2.tokenUrl("acme"), {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization({ clientId: "id", clientSecret: secret }) },
    body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken }).toString(),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("simulator: generic OAuth 2.0 token endpoint", () => {
  it("rotates the refresh token, and a rotated-out token presented again ends the whole authorization", async () => {
    const sim = await start();
    const issued = sim.oauth2.issue("acme");
    const first = await refresh(sim, issued.refreshToken);
    expect(first).toMatchObject({ status: 200, body: { token_type: "Bearer", expires_in: 3600 } });
    const next = first.body.refresh_token as string;
    expect(next).not.toBe(issued.refreshToken);
    expect(await refresh(sim, issued.refreshToken)).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
    // The reuse revoked the family: the legitimately rotated token stops working too.
    expect(await refresh(sim, next)).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
    expect(sim.oauth2.stats().reuseDetected).toBe(1);
  });

  it("without rotation answers no refresh token and keeps the old one working", async () => {
    const sim = await start(false);
    const issued = sim.oauth2.issue("acme");
    expect((await refresh(sim, issued.refreshToken)).body.refresh_token).toBeUndefined();
    expect((await refresh(sim, issued.refreshToken)).status).toBe(200);
  });

  it("answers invalid_client for a wrong secret, invalid_grant when revoked, and can leave out expires_in", async () => {
    const sim = await start();
    const issued = sim.oauth2.issue("acme");
    expect(await refresh(sim, issued.refreshToken, "wrong")).toMatchObject({ status: 401, body: { error: "invalid_client" } });
    sim.oauth2.configure("acme", { omitExpiresIn: true });
    const answer = await refresh(sim, issued.refreshToken);
    expect(answer.status).toBe(200);
    expect(answer.body).not.toHaveProperty("expires_in");
    sim.oauth2.revoke(answer.body.refresh_token as string);
    expect(await refresh(sim, answer.body.refresh_token as string)).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
  });

  it("throttles with Retry-After and serves outages and HTML error pages when told", async () => {
    const sim = await start();
    const issued = sim.oauth2.issue("acme");
    sim.oauth2.inject({ kind: "throttle", provider: "acme", retryAfterSeconds: 12 });
    const response = await fetch(sim.oauth2.tokenUrl("acme"), { method: "POST", body: "" });
    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBe("12");
    sim.oauth2.inject({ kind: "unavailable", provider: "acme" });
    expect((await refresh(sim, issued.refreshToken)).status).toBe(503);
    sim.oauth2.inject({ kind: "html502", provider: "acme" });
    const html = await fetch(sim.oauth2.tokenUrl("acme"), { method: "POST", body: "" });
    expect(html.status).toBe(502);
    expect(await html.text()).toContain("<html>");
  });
});

describe("simulator: the generic OAuth 2.0 endpoints over the admin HTTP API (/_sim/oauth2/)", () => {
  /** A simulator started with no OAuth 2.0 provider, as `refresca simulate` is: everything is set up over HTTP. */
  async function bare(): Promise<Simulator> {
    const sim = await startSimulator();
    running.push(sim);
    return sim;
  }

  async function admin(sim: Simulator, method: string, path: string, body?: unknown) {
    const response = await fetch(`${sim.url}/_sim/oauth2/${path}`, {
      method,
      ...(body !== undefined && { headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  it("defines a provider, mints, rotates and revokes its tokens, and counts the calls, from another process", async () => {
    const sim = await bare();
    const remote = connectSimulator(sim.url).oauth2;
    const view = await remote.define("acme", { clientId: "id", clientSecret: "s e:cret", accessLifetimeSeconds: 900 });
    expect(view).toEqual({
      id: "acme",
      tokenUrl: sim.oauth2.tokenUrl("acme"),
      clientId: "id",
      clientAuth: "client_secret_basic",
      rotate: true,
      accessLifetimeSeconds: 900,
      omitExpiresIn: false,
    });
    expect(JSON.stringify(await remote.providers())).not.toContain("s e:cret");

    const issued = await remote.issue("acme", { accessExpiresInSeconds: 60 });
    expect(new Date(issued.expiresAt).getTime()).toBeCloseTo(Date.now() + 60_000, -4);
    const first = await refresh(sim, issued.refreshToken);
    expect(first).toMatchObject({ status: 200, body: { expires_in: 900, refresh_token: expect.any(String) } });
    expect(await refresh(sim, issued.refreshToken)).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
    const stats = await remote.stats();
    expect(stats).toMatchObject({ calls: { acme: 2 }, reuseDetected: 1 });
    expect(stats.callsForToken(issued.refreshToken)).toBe(2);

    const again = await remote.issue("acme");
    expect(await remote.revoke(again.refreshToken)).toBe(2);
    expect(await refresh(sim, again.refreshToken)).toMatchObject({ status: 400, body: { error: "invalid_grant" } });

    expect(await remote.configure("acme", { rotate: false, omitExpiresIn: true })).toMatchObject({ rotate: false, omitExpiresIn: true });
    const kept = await remote.issue("acme");
    const answer = await refresh(sim, kept.refreshToken);
    expect(answer.status).toBe(200);
    expect(answer.body).not.toHaveProperty("refresh_token");
    expect(answer.body).not.toHaveProperty("expires_in");
  });

  it("injects throttling, outages and HTML error pages for one provider, and reset forgets what was set up", async () => {
    const sim = await bare();
    const remote = connectSimulator(sim.url).oauth2;
    await remote.define("acme", { clientId: "id", clientSecret: "s e:cret" });
    await remote.define("other", { clientId: "id", clientSecret: "s e:cret" });
    const issued = await remote.issue("acme");
    const other = await remote.issue("other");
    await remote.inject({ kind: "throttle", provider: "acme", retryAfterSeconds: 9 });
    await remote.inject({ kind: "unavailable", provider: "acme", status: 500 });
    await remote.inject({ kind: "html502", provider: "acme" });
    const otherAnswer = await fetch(sim.oauth2.tokenUrl("other"), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuthorization({ clientId: "id", clientSecret: "s e:cret" }) },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: other.refreshToken }).toString(),
    });
    expect(otherAnswer.status).toBe(200);
    const throttled = await fetch(sim.oauth2.tokenUrl("acme"), { method: "POST", body: "" });
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get("retry-after")).toBe("9");
    expect(await refresh(sim, issued.refreshToken)).toMatchObject({ status: 500, body: { error: "server_error" } });
    const html = await fetch(sim.oauth2.tokenUrl("acme"), { method: "POST", body: "" });
    expect(html.status).toBe(502);
    expect(await html.text()).toContain("<html>");
    expect((await refresh(sim, issued.refreshToken)).status).toBe(200);

    // The simulator-wide reset covers the OAuth 2.0 endpoints too: providers defined over HTTP and their grants are gone.
    await connectSimulator(sim.url).reset();
    expect(await remote.providers()).toEqual([]);
    expect(await remote.stats()).toMatchObject({ calls: {}, reuseDetected: 0, callsByToken: {} });
    expect((await fetch(sim.oauth2.tokenUrl("acme"), { method: "POST", body: "" })).status).toBe(404);
  });

  it("restores the providers it started with on reset, and keeps those in-process and over HTTP in one place", async () => {
    const sim = await start();
    const remote = connectSimulator(sim.url).oauth2;
    await remote.configure("acme", { accessLifetimeSeconds: 60 });
    const issued = sim.oauth2.issue("acme");
    expect((await refresh(sim, issued.refreshToken)).body.expires_in).toBe(60);
    expect(sim.oauth2.stats().calls.acme).toBe(1);
    await remote.reset();
    expect(await remote.providers()).toMatchObject([{ id: "acme", accessLifetimeSeconds: 3600, rotate: true }]);
    expect(await refresh(sim, issued.refreshToken)).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
  });

  it("refuses bad input with 400 naming what is wrong, and an unknown provider with 404", async () => {
    const sim = await bare();
    const missing = await admin(sim, "PUT", "providers/acme", { clientId: "id" });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toMatch(/clientSecret/);
    const unknownField = await admin(sim, "PUT", "providers/acme", { clientId: "id", clientSecret: "s", rotates: true });
    expect(unknownField).toMatchObject({ status: 400, body: { error: expect.stringMatching(/rotates/) } });
    const wrongType = await admin(sim, "PUT", "providers/acme", { clientId: "id", clientSecret: "s", clientAuth: "private_key_jwt" });
    expect(wrongType).toMatchObject({ status: 400, body: { error: expect.stringMatching(/clientAuth/) } });
    expect(await admin(sim, "PUT", "providers/acme", "{not json")).toMatchObject({ status: 400, body: { error: "the body is not JSON" } });
    expect(await admin(sim, "PUT", "providers/Not_An_Id", { clientId: "id", clientSecret: "s" }))
      .toMatchObject({ status: 400, body: { error: expect.stringMatching(/provider id must match/) } });

    expect(await admin(sim, "POST", "providers/nobody/tokens", {})).toMatchObject({ status: 404, body: { error: 'no simulated OAuth 2.0 provider "nobody"' } });
    expect(await admin(sim, "PATCH", "providers/nobody", { rotate: false })).toMatchObject({ status: 404 });
    expect(await admin(sim, "POST", "faults", { kind: "throttle", provider: "nobody" }))
      .toMatchObject({ status: 400, body: { error: 'no simulated OAuth 2.0 provider "nobody"' } });
    expect(await admin(sim, "POST", "faults", { kind: "meltdown" })).toMatchObject({ status: 400, body: { error: expect.stringMatching(/kind/) } });
    expect(await admin(sim, "POST", "revoke", {})).toMatchObject({ status: 400, body: { error: expect.stringMatching(/token/) } });
    expect(await admin(sim, "POST", "revoke", { token: "simo2_never-issued" })).toMatchObject({ status: 200, body: { revoked: 0 } });

    expect((await admin(sim, "PUT", "providers/acme", { clientId: "id", clientSecret: "s" })).status).toBe(200);
    const badIssue = await admin(sim, "POST", "providers/acme/tokens", { accessExpiresInSeconds: "soon" });
    expect(badIssue).toMatchObject({ status: 400, body: { error: expect.stringMatching(/accessExpiresInSeconds/) } });
    expect(await admin(sim, "DELETE", "providers/acme")).toMatchObject({ status: 405 });
    expect(await admin(sim, "GET", "nothing")).toMatchObject({ status: 404 });
  });
});
