// Helpers shared by the benchmark scripts under bench/: option parsing, percentiles, and printing of figures.
import os from "node:os";
import { parseArgs, type ParseArgsConfig } from "node:util";

export const DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test";
export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

/** The connection URLs every benchmark uses: the environment's, else the local servers. */
export function serverUrls(env: NodeJS.ProcessEnv = process.env): { databaseUrl: string; redisUrl: string } {
  return {
    databaseUrl: env.DATABASE_URL?.trim() || DEFAULT_DATABASE_URL,
    redisUrl: env.REDIS_URL?.trim() || DEFAULT_REDIS_URL,
  };
}

/** A fixed `kid:base64` key ring for benchmarks: never used for real secrets. */
export const BENCH_ENCRYPTION_KEYS = `bench:${Buffer.alloc(32, 7).toString("base64")}`;

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * Parses `process.argv` strictly (an unknown option is an error) and answers `--help` with `usage`.
 * Exits the process on bad input or on help.
 */
export function parseOptions<O extends Options>(options: O, usage: string) {
  try {
    const { values } = parseArgs({ options: { ...options, help: { type: "boolean", short: "h" } }, strict: true, allowPositionals: false });
    if ((values as { help?: boolean }).help) {
      console.log(usage);
      process.exit(0);
    }
    return values;
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${usage}`);
    process.exit(2);
  }
}

/** A whole number ≥ `min` from an option's text, or exits naming the option. */
export function positiveInteger(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min) {
    console.error(`--${name} must be a whole number ≥ ${min} (got "${value}")`);
    process.exit(2);
  }
  return parsed;
}

/** The p-th percentile (0–100) of sorted samples, by linear interpolation between closest ranks. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (rank - low);
}

export interface Summary {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  min: number;
  mean: number;
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const total = sorted.reduce((sum, value) => sum + value, 0);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    min: sorted[0] ?? Number.NaN,
    mean: sorted.length ? total / sorted.length : Number.NaN,
  };
}

/** Times `fn` with performance.now(); resolves to its result and the elapsed milliseconds. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const start = performance.now();
  const result = await fn();
  return { result, ms: performance.now() - start };
}

export const ms = (value: number, digits = 2) => `${value.toFixed(digits)} ms`;

export function duration(milliseconds: number): string {
  if (milliseconds < 1000) return `${Math.round(milliseconds)} ms`;
  const seconds = milliseconds / 1000;
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

/** Prints a two-column table of figures, labels left-aligned, values right-aligned. */
export function printFigures(title: string, rows: ReadonlyArray<readonly [label: string, value: string]>): void {
  const labelWidth = Math.max(...rows.map(([label]) => label.length));
  const valueWidth = Math.max(...rows.map(([, value]) => value.length));
  console.log(`\n${title}`);
  console.log(`${"-".repeat(labelWidth + valueWidth + 4)}`);
  for (const [label, value] of rows) console.log(`  ${label.padEnd(labelWidth)}  ${value.padStart(valueWidth)}`);
}

/** Prints a table with a header row; the first column left-aligned, the others right-aligned. */
export function printTable(title: string, header: readonly string[], rows: ReadonlyArray<readonly string[]>): void {
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => (row[column] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join("  ");
  console.log(`\n${title}`);
  console.log(`  ${line(header)}`);
  console.log(`  ${widths.map((width) => "-".repeat(width)).join("  ")}`);
  for (const row of rows) console.log(`  ${line(row)}`);
}

/** Today's date, YYYY-MM-DD, for the figures' records. */
export const today = () => new Date().toISOString().slice(0, 10);

/** The machine the figures come from: cores, memory, Node, and the load average (other work skews figures). */
export function describeMachine(): string {
  const gib = (os.totalmem() / 2 ** 30).toFixed(1);
  return `${os.cpus().length} cores, ${gib} GiB, Node ${process.version}, ${describeLoad()}`;
}

export function describeLoad(): string {
  return `load average ${os.loadavg().map((value) => value.toFixed(2)).join(" / ")}`;
}

/**
 * A warning when other work kept the machine busy, else undefined: when the 1-minute load average is above
 * `limit` (by default the number of cores; a sequential benchmark alone puts about 1 on it).
 */
export function busyWarning(limit: number = os.cpus().length): string | undefined {
  const [load1] = os.loadavg();
  return load1! > limit
    ? `warning: the machine was busy (1-minute load ${load1!.toFixed(2)} on ${os.cpus().length} cores): figures are likely inflated; run again when idle.`
    : undefined;
}
