import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientGroup, DEFAULT_THROTTLE, SignInThrottle } from "../src/web/sign-in-throttle";
import { TEST_REDIS_URL, uniqueName } from "./env";
import { deleteKeys } from "./support/harness";

let redis: Redis;
let prefix: string;
beforeAll(() => {
  redis = new Redis(TEST_REDIS_URL);
  prefix = `${uniqueName("t")}:`;
});
afterAll(async () => {
  await deleteKeys(prefix);
  redis?.disconnect();
});

/** A wrong key, looked up as slowly as a database would: parallel guesses overlap. */
const wrongKey = async () => {
  await sleep(20);
  return null;
};

describe("the sign-in throttle", () => {
  it("checks at most the free number of keys from one address, however many guesses arrive at once", async () => {
    const throttle = new SignInThrottle(redis, `${prefix}parallel:`);
    let checked = 0;
    const guesses = await Promise.all(
      Array.from({ length: 40 }, () =>
        throttle.attempt("198.51.100.7", async () => {
          checked += 1;
          return wrongKey();
        }),
      ),
    );
    expect(checked).toBe(DEFAULT_THROTTLE.freeFailures);
    expect(guesses.filter((g) => g.outcome === "locked")).toHaveLength(40 - DEFAULT_THROTTLE.freeFailures);
    // The guess that used up the free ones says how long the lockout lasts.
    expect(guesses.filter((g) => g.outcome === "failed").map((g) => g.outcome === "failed" && g.lockoutSeconds).sort()).toEqual([
      0, 0, 0, 0, DEFAULT_THROTTLE.firstLockoutSeconds,
    ]);
    // Another address is not affected.
    expect(await throttle.attempt("198.51.100.8", async () => "tenant")).toEqual({ outcome: "signed-in", holder: "tenant" });
  });

  it("a right key among the free attempts signs in and forgets the failures", async () => {
    const throttle = new SignInThrottle(redis, `${prefix}success:`);
    for (let i = 0; i < DEFAULT_THROTTLE.freeFailures - 1; i++) {
      expect(await throttle.attempt("203.0.113.5", wrongKey)).toEqual({ outcome: "failed", lockoutSeconds: 0 });
    }
    expect(await throttle.attempt("203.0.113.5", async () => "tenant")).toEqual({ outcome: "signed-in", holder: "tenant" });
    // Counting starts again from zero.
    for (let i = 0; i < DEFAULT_THROTTLE.freeFailures - 1; i++) {
      expect(await throttle.attempt("203.0.113.5", wrongKey)).toEqual({ outcome: "failed", lockoutSeconds: 0 });
    }
    expect(await throttle.attempt("203.0.113.5", wrongKey)).toMatchObject({ outcome: "failed", lockoutSeconds: 15 });
    expect(await throttle.attempt("203.0.113.5", async () => "tenant")).toMatchObject({ outcome: "locked" });
  });

  it("counts an IPv6 client by its /64, so rotating addresses inside it gains nothing", async () => {
    const throttle = new SignInThrottle(redis, `${prefix}v6:`);
    for (let i = 1; i <= DEFAULT_THROTTLE.freeFailures; i++) {
      expect(await throttle.attempt(`2001:db8:aa:bb::${i.toString(16)}`, wrongKey)).toMatchObject({ outcome: "failed" });
    }
    let checked = false;
    const next = await throttle.attempt("2001:0db8:00aa:00bb:ffff:1:2:3", async () => ((checked = true), "tenant"));
    expect(next).toMatchObject({ outcome: "locked" });
    expect(checked).toBe(false);
    // The neighbouring /64 is someone else.
    expect(await throttle.attempt("2001:db8:aa:bc::1", async () => "tenant")).toEqual({ outcome: "signed-in", holder: "tenant" });
  });

  it("counts an IPv4-mapped IPv6 address as the IPv4 address it is", async () => {
    const throttle = new SignInThrottle(redis, `${prefix}mapped:`);
    for (let i = 0; i < DEFAULT_THROTTLE.freeFailures; i++) {
      const ip = i % 2 === 0 ? "192.0.2.44" : "::ffff:192.0.2.44";
      expect(await throttle.attempt(ip, wrongKey)).toMatchObject({ outcome: "failed" });
    }
    expect(await throttle.attempt("::FFFF:c000:022c", async () => "tenant")).toMatchObject({ outcome: "locked" });
    expect(await throttle.attempt("192.0.2.44", async () => "tenant")).toMatchObject({ outcome: "locked" });
  });
});

describe("the client group an address is counted under", () => {
  it.each([
    ["192.0.2.1", "192.0.2.1"],
    ["::ffff:192.0.2.1", "192.0.2.1"],
    ["::ffff:c000:201", "192.0.2.1"],
    ["2001:db8::1", "2001:db8:0:0::/64"],
    ["2001:DB8:0:0:1234:5678:9abc:def0", "2001:db8:0:0::/64"],
    ["fe80::1%eth0", "fe80:0:0:0::/64"],
    ["::1", "0:0:0:0::/64"],
    ["unknown", "unknown"],
  ])("%s → %s", (ip, group) => {
    expect(clientGroup(ip)).toBe(group);
  });
});
