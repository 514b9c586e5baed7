import { describe, expect, test } from "vitest";
import { createLogger } from "../src/core/logger";

function capture(level = "debug") {
  const lines: string[] = [];
  const logger = createLogger({ level, name: "test", destination: { write: (line: string) => void lines.push(line) } });
  return { logger, lines };
}

describe("logger", () => {
  test("a debug line carrying tokens and secrets prints none of them", () => {
    const { logger, lines } = capture();
    const secrets = ["AT-1111", "RT-2222", "at_3333", "rt_4444", "cs_5555", "as_6666", "pw_7777", "Bearer 8888", "cred_9999"];
    logger.debug(
      {
        accessToken: "AT-1111",
        channel: { id: "ch-1", refreshToken: "RT-2222", credentials: { accessToken: "cred_9999" } },
        response: { body: { access_token: "at_3333", refresh_token: "rt_4444" } },
        request: { form: { client_secret: "cs_5555" }, headers: { authorization: "Bearer 8888" } },
        config: { apps: { meta: { appId: "123", appSecret: "as_6666" } } },
        password: "pw_7777",
      },
      "refreshing",
    );
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    for (const secret of secrets) expect(line).not.toContain(secret);
    const entry = JSON.parse(line);
    expect(entry).toMatchObject({ level: 20, name: "test", msg: "refreshing", accessToken: "[redacted]" });
    expect(entry.channel).toEqual({ id: "ch-1", refreshToken: "[redacted]", credentials: "[redacted]" });
    expect(entry.config.apps.meta).toEqual({ appId: "123", appSecret: "[redacted]" });
  });

  test("the level filters lines", () => {
    const { logger, lines } = capture("info");
    logger.debug("hidden");
    logger.info("shown");
    expect(lines.map((line) => JSON.parse(line).msg)).toEqual(["shown"]);
  });
});
