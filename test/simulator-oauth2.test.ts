import { afterEach, describe, expect, it } from "vitest";
import { basicAuthorization } from "../src/core/providers/oauth2";
import { startSimulator, type Simulator } from "../src/simulator";

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
