import { randomBytes } from "node:crypto";
import { inspect } from "node:util";
import { describe, expect, test } from "vitest";
import { EnvelopeError, generateKeySpec, parseKeyRing } from "../src/core/crypto";

const k1 = generateKeySpec("k1");
const k2 = generateKeySpec("k2");
const binding = { tenantId: "tenant-a", channelId: "channel-1" };
const credentials = { accessToken: "EAAB-access-token-secret", refreshToken: "rt-refresh-token-secret" };

describe("key ring", () => {
  test("round trip returns the credentials, in a v1 envelope naming the key", () => {
    const ring = parseKeyRing(k1);
    const envelope = ring.encrypt(credentials, binding);
    expect(envelope).toMatch(/^v1\.k1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(ring.keyIdOf(envelope)).toBe("k1");
    expect(ring.decrypt(envelope, binding)).toEqual(credentials);
    expect(ring.decrypt(ring.encrypt({ accessToken: "only" }, binding), binding)).toEqual({ accessToken: "only" });
  });

  test("the ciphertext contains no plaintext and differs on each encryption", () => {
    const ring = parseKeyRing(k1);
    const a = ring.encrypt(credentials, binding);
    const b = ring.encrypt(credentials, binding);
    expect(a).not.toBe(b);
    for (const secret of [credentials.accessToken, credentials.refreshToken]) {
      expect(a).not.toContain(secret);
      expect(Buffer.from(a.split(".")[3]!, "base64url").toString("latin1")).not.toContain(secret);
    }
  });

  test("a tampered envelope fails authentication", () => {
    const ring = parseKeyRing(k1);
    const [v, kid, iv, ct, tag] = ring.encrypt(credentials, binding).split(".");
    const flipped = Buffer.from(ct!, "base64url");
    flipped[0]! ^= 1;
    const tampered = [v, kid, iv, flipped.toString("base64url"), tag].join(".");
    expect(() => ring.decrypt(tampered, binding)).toThrow(/failed authentication/);
    expect(() => ring.decrypt([v, kid, iv, ct, tag!.slice(0, 10)].join("."), binding)).toThrow(EnvelopeError);
    expect(() => ring.decrypt("not an envelope", binding)).toThrow(/not a v1 envelope/);
  });

  test("an envelope moved to another tenant or channel does not decrypt", () => {
    const ring = parseKeyRing(k1);
    const envelope = ring.encrypt(credentials, binding);
    expect(() => ring.decrypt(envelope, { ...binding, tenantId: "tenant-b" })).toThrow(/another tenant or channel/);
    expect(() => ring.decrypt(envelope, { ...binding, channelId: "channel-2" })).toThrow(/another tenant or channel/);
    // Ids containing the separator cannot be shuffled into another valid binding.
    const colon = ring.encrypt(credentials, { tenantId: "a:b", channelId: "c" });
    expect(() => ring.decrypt(colon, { tenantId: "a", channelId: "b:c" })).toThrow(EnvelopeError);
  });

  test("an envelope of an unknown key id fails with a message naming the key id", () => {
    const envelope = parseKeyRing(k1).encrypt(credentials, binding);
    expect(() => parseKeyRing(k2).decrypt(envelope, binding)).toThrow(/key "k1", which is not in REFRESCA_ENCRYPTION_KEYS/);
  });

  test("rotation: ring k2,k1 encrypts with k2 and still decrypts what k1 encrypted", () => {
    const old = parseKeyRing(k1).encrypt(credentials, binding);
    const ring = parseKeyRing(`${k2},${k1}`);
    expect(ring.activeKeyId).toBe("k2");
    expect(ring.keyIds).toEqual(["k2", "k1"]);
    expect(ring.decrypt(old, binding)).toEqual(credentials);
    expect(ring.keyIdOf(ring.encrypt(credentials, binding))).toBe("k2");
  });

  test("key material is not visible to inspection or JSON", () => {
    const ring = parseKeyRing(k1);
    const key = k1.split(":")[1]!;
    expect(inspect(ring, { depth: 10, showHidden: true })).not.toContain(key);
    expect(JSON.stringify(ring)).not.toContain(key);
  });

  test("generateKeySpec defaults the key id to k + yyyymmdd and makes 32 random bytes", () => {
    const spec = generateKeySpec();
    expect(spec).toMatch(/^k\d{8}:/);
    expect(Buffer.from(spec.split(":")[1]!, "base64")).toHaveLength(32);
    expect(generateKeySpec("x")).not.toBe(generateKeySpec("x"));
  });
});

describe("parseKeyRing errors name the problem and never the key", () => {
  const short = randomBytes(16).toString("base64");
  const good = randomBytes(32).toString("base64");
  const cases: Array<[string, RegExp]> = [
    ["", /REFRESCA_ENCRYPTION_KEYS is empty/],
    [`${k1},`, /entry 2 is empty/],
    [good, /entry 1 has no key id/],
    [`${k1},k2:${short}`, /^REFRESCA_ENCRYPTION_KEYS entry 2: key "k2" is 16 bytes, expected 32$/],
    [`${k1},k1:${good}`, /entry 2: key id "k1" is used twice/],
    [`bad kid!:${good}`, /entry 1: the key id must be 1–32 characters/],
    [`${"k".repeat(33)}:${good}`, /entry 1: the key id must be/],
    ["k1:not*base64", /entry 1: key "k1" is not valid base64/],
    ["k1:", /entry 1: key "k1" is empty/],
  ];
  test.each(cases)("%j", (spec, message) => {
    let error: Error | undefined;
    try {
      parseKeyRing(spec);
    } catch (caught) {
      error = caught as Error;
    }
    expect(error?.message).toMatch(message);
    expect(error?.message).not.toContain(short);
    expect(error?.message).not.toContain(good);
  });
});
