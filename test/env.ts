import { randomUUID } from "node:crypto";

/** The servers the tests use when TEST_DATABASE_URL / TEST_REDIS_URL are unset and they answer. */
export const DEFAULT_TEST_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test";
export const DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379";

/**
 * The PostgreSQL and Redis the tests use. test/global-setup.ts sets both variables before the test files load: the
 * machine's servers when they answer, else the embedded PostgreSQL and a private redis-server it started.
 */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || DEFAULT_TEST_DATABASE_URL;
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL || DEFAULT_TEST_REDIS_URL;

/** A name no other test uses, safe as a PostgreSQL schema, a Redis prefix or a queue name. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomUUID().replaceAll("-", "").slice(0, 16)}`;
}
