import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { CLIENT_HEADER, clientFromHeaders, describeClient, markClientStamping } from "../src/web/client";
import { adminKeyId, openSession, sealSession, sessionKey } from "../src/web/session";

const key = sessionKey("x".repeat(32));

describe("session cookies", () => {
  it("round-trips a tenant session and an admin session", async () => {
    expect(await openSession(await sealSession({ role: "tenant", tenantId: "acme", keyId: "k1" }, key), key)).toEqual({
      role: "tenant",
      tenantId: "acme",
      keyId: "k1",
    });
    const admin = { role: "admin" as const, keyId: adminKeyId("a".repeat(32)) };
    expect(await openSession(await sealSession(admin, key), key)).toEqual(admin);
  });

  it("refuses a cookie signed with another secret, tampered with, expired, or unsigned", async () => {
    const token = await sealSession({ role: "tenant", tenantId: "acme", keyId: "k1" }, key);
    expect(await openSession(token, sessionKey("y".repeat(32)))).toBeNull();
    const [header, payload, signature] = token.split(".");
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, "base64url").toString()), sub: "globex" })).toString("base64url");
    expect(await openSession(`${header}.${forged}.${signature}`, key)).toBeNull();
    expect(await openSession(await sealSession({ role: "tenant", tenantId: "acme", keyId: "k1" }, key, -10), key)).toBeNull();
    const unsigned = `${Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url")}.${payload}.`;
    expect(await openSession(unsigned, key)).toBeNull();
    const otherAudience = await new SignJWT({ role: "tenant", kid: "k1" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("acme")
      .setIssuer("refresca")
      .setAudience("something-else")
      .setExpirationTime("1h")
      .sign(key);
    expect(await openSession(otherAudience, key)).toBeNull();
    expect(await openSession("not a token", key)).toBeNull();
  });

  it("derives the signing key from the secret, and admin key ids without revealing the key", () => {
    expect(Buffer.from(sessionKey("x".repeat(32))).equals(Buffer.from(key))).toBe(true);
    expect(Buffer.from(sessionKey("z".repeat(32))).equals(Buffer.from(key))).toBe(false);
    expect(adminKeyId("a".repeat(32))).toMatch(/^[0-9a-f]{16}$/);
    expect(adminKeyId("a".repeat(32))).not.toBe(adminKeyId("b".repeat(32)));
  });
});

describe("the client of a request", () => {
  const socket = { remoteAddress: "10.0.0.7", encrypted: false };

  it("comes from the connection unless the proxy is trusted, whatever headers the client sends", () => {
    const headers = { "x-forwarded-for": "1.2.3.4", "x-forwarded-proto": "https" };
    expect(describeClient({ headers, socket }, false)).toEqual({ ip: "10.0.0.7", secure: false });
    expect(describeClient({ headers: {}, socket: { remoteAddress: "10.0.0.7", encrypted: true } }, false)).toEqual({ ip: "10.0.0.7", secure: true });
  });

  it("behind a trusted proxy, is the last X-Forwarded-For entry (the one the proxy added) and its scheme", () => {
    const headers = { "x-forwarded-for": "6.6.6.6, 203.0.113.9", "x-forwarded-proto": "https" };
    expect(describeClient({ headers, socket }, true)).toEqual({ ip: "203.0.113.9", secure: true });
  });

  it("is read back from the header the server stamped once the server marked the process", () => {
    const headers = new Headers({ [CLIENT_HEADER]: JSON.stringify({ ip: "10.0.0.7", secure: true }), "x-forwarded-for": "6.6.6.6" });
    expect(clientFromHeaders(headers)).toEqual({ ip: "6.6.6.6", secure: false }); // not stamped: plain `next start`
    markClientStamping();
    expect(clientFromHeaders(headers)).toEqual({ ip: "10.0.0.7", secure: true });
    expect(clientFromHeaders(new Headers({ [CLIENT_HEADER]: "garbage" }))).toEqual({ ip: "unknown", secure: false });
  });
});
