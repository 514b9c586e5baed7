import pino from "pino";

export type Logger = pino.Logger;

/** Keys whose values are secrets wherever they appear in a logged object. */
const SECRET_KEYS = [
  "accessToken",
  "refreshToken",
  "access_token",
  "refresh_token",
  "fb_exchange_token",
  "client_secret",
  "clientSecret",
  "appSecret",
  "password",
  "credentials",
  "authorization",
  "Authorization",
  "cookie",
  "encryptionKeys",
  "databaseUrl",
  "redisUrl",
];

// pino's `*` matches one level only, so each key is listed at the depths our objects reach (config.apps.meta.appSecret).
const REDACT_PATHS = SECRET_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`, `*.*.*.${key}`]);

export interface LoggerOptions {
  /** @defaultValue "info" */
  level?: string;
  /** @defaultValue stdout */
  destination?: pino.DestinationStream;
  name?: string;
}

/** The one logger factory: JSON lines, secrets censored before anything is written. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const settings: pino.LoggerOptions = {
    level: options.level ?? "info",
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
  };
  if (options.name !== undefined) settings.name = options.name;
  return options.destination ? pino(settings, options.destination) : pino(settings);
}
