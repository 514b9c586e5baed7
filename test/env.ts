import { randomUUID } from "node:crypto";

/** The machine's PostgreSQL and Redis, as the tests reach them. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** A name no other test uses, safe as a PostgreSQL schema, a Redis prefix or a queue name. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomUUID().replaceAll("-", "").slice(0, 16)}`;
}
