import path from "node:path";
import { packageRoot } from "../package-root";
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import * as schema from "./schema";

export type Database = NodePgDatabase<typeof schema>;

export interface DatabaseOptions {
  /** `postgres://…` URL of the server. */
  url: string;
  /** PostgreSQL schema that holds Refresca's tables. @defaultValue "refresca" */
  schema?: string;
  /** Connections kept by this process. @defaultValue 10 */
  poolSize?: number;
  /**
   * Longest wait for a free connection of the pool. With `statementTimeoutMs`, one write of a refresh's outcome ends
   * (saved or failed) well within the channel lock's lifetime, even when the lock can no longer be renewed.
   * @defaultValue 5000
   */
  connectionTimeoutMs?: number;
  /** PostgreSQL's statement_timeout for this pool's connections (migrations lift it). @defaultValue 10000 */
  statementTimeoutMs?: number;
}

// Found from the package root, so that the same path works from src/ and from the bundled command line
// (dist/cli.js). Only unbundled code migrates: the web app's bundle opens the store with `migrate: false`.
const migrationsFolder = () => path.join(packageRoot(), "src", "core", "store", "migrations");
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
// Any fixed number works: it only has to be the same in every Refresca process migrating the same database.
const MIGRATION_LOCK = 0x5265_6672;

/** A connection pool whose search_path is the installation's schema, and the Drizzle handle over it. */
export interface Connection {
  pool: pg.Pool;
  db: Database;
  schema: string;
  close(): Promise<void>;
}

export function connect(options: DatabaseOptions): Connection {
  const schemaName = options.schema ?? "refresca";
  if (!SCHEMA_NAME.test(schemaName)) {
    throw new Error(`Database schema name "${schemaName}" is not valid: use lowercase letters, digits and _.`);
  }
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    options: `-c search_path=${schemaName} -c statement_timeout=${Math.max(0, Math.round(options.statementTimeoutMs ?? 10_000))}`,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5000,
  });
  // An idle client losing its server (restart, failover) must not crash the process: the pool replaces it.
  pool.on("error", () => {});
  const db = drizzle(pool, { schema });
  return { pool, db, schema: schemaName, close: () => pool.end() };
}

/** Brings the schema up to date. Safe to run from several processes at once: they queue on an advisory lock. */
export async function runMigrations(connection: Connection): Promise<void> {
  const client = await connection.pool.connect();
  try {
    // Waiting for another process's migration, or a migration that rewrites a large table, may take longer than
    // the pool's statement timeout allows any other statement: none for this session's work.
    await client.query("set statement_timeout = 0");
    await client.query("select pg_advisory_lock($1)", [MIGRATION_LOCK]);
    try {
      await client.query(`create schema if not exists "${connection.schema}"`);
      await migrate(drizzle(client, { schema }), {
        migrationsFolder: migrationsFolder(),
        migrationsSchema: connection.schema,
        migrationsTable: "refresca_migrations",
      });
    } finally {
      await client.query("select pg_advisory_unlock($1)", [MIGRATION_LOCK]);
      await client.query("reset statement_timeout");
    }
  } finally {
    client.release();
  }
}
