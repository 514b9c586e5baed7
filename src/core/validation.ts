import { z } from "zod";
import { PLATFORMS, type Platform } from "./types";

/** Ids of tenants and channels: at most 128 characters of a safe alphabet (no spaces, quotes or slashes). */
export const idSchema = z
  .string({ error: "must be a string" })
  .min(1, "must not be empty")
  .max(128, "must be at most 128 characters")
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:@-]*$/, "may only contain letters, digits and _ . : @ - (starting with a letter or digit)");

const tokenSchema = z.string().min(1, "must not be empty").max(8192, "must be at most 8192 characters");
const isoDate = z.iso.datetime({ offset: true, error: "must be an ISO-8601 date-time, e.g. 2026-01-31T12:00:00Z" });

/** Keys that would put a secret in the clear inside `meta`; secrets go in the encrypted fields instead. */
const SECRET_META_KEY = /token|secret|password|credential/i;
/** How deep `meta` may nest (meta itself is level 1): ample for platform data, and nothing downstream recurses far. */
export const MAX_META_DEPTH = 32;
const MAX_META_JSON_LENGTH = 16_384;
// 16 kB of JSON holds fewer values than characters: a walk past this many cannot end in an accepted meta.
const MAX_META_VALUES = MAX_META_JSON_LENGTH;

type MetaIssue = { path: Array<string | number>; message: string };

/**
 * What is wrong with a `meta`, found by walking it with an explicit stack: a value nested 20,000 deep must be refused,
 * not overflow the call stack (JSON.stringify, and zod's own recursion, would). Depth and size are checked before
 * anything serialises it.
 */
function metaIssues(meta: Record<string, unknown>): MetaIssue[] {
  const issues: MetaIssue[] = [];
  const pending: Array<{ value: unknown; path: Array<string | number> }> = [{ value: meta, path: [] }];
  for (let seen = 0; pending.length > 0; seen++) {
    if (seen >= MAX_META_VALUES) return [{ path: [], message: "must be at most 16 kB of JSON" }];
    const { value, path } = pending.pop()!;
    if (typeof value === "bigint" || typeof value === "function" || typeof value === "symbol") {
      issues.push({ path, message: "must be JSON: a string, number, boolean, null, array or object" });
      continue;
    }
    if (value === null || typeof value !== "object") continue;
    if (path.length >= MAX_META_DEPTH) return [{ path: [], message: `must be at most ${MAX_META_DEPTH} levels deep` }];
    if (Array.isArray(value)) {
      value.forEach((item, index) => pending.push({ value: item, path: [...path, index] }));
      continue;
    }
    for (const [key, item] of Object.entries(value)) {
      if (SECRET_META_KEY.test(key)) {
        issues.push({
          path: [...path, key],
          message: "looks like a secret: put tokens in accessToken/refreshToken, where they are stored encrypted",
        });
      }
      pending.push({ value: item, path: [...path, key] });
    }
  }
  if (issues.length === 0 && JSON.stringify(meta).length > MAX_META_JSON_LENGTH) {
    issues.push({ path: [], message: "must be at most 16 kB of JSON" });
  }
  return issues;
}

const metaSchema = z.record(z.string().max(64), z.unknown()).superRefine((meta, ctx) => {
  for (const issue of metaIssues(meta)) ctx.addIssue({ code: "custom", ...issue });
});

/**
 * How an error names the value a caller gave: a short string quoted with control and non-ASCII characters escaped
 * (a homoglyph such as a Cyrillic "і" shows as \u0456), anything longer — a hostile 10 kB value, a token pasted in
 * the wrong field — only by its length, anything else by its kind.
 */
export function describeGiven(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value !== "string") return typeof value === "object" ? "an object" : `a ${typeof value}`;
  if (value.length > 32) return `a string of ${value.length} characters`;
  return JSON.stringify(value).replace(/[^\x20-\x7e]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** The refusal of a channel type: the types allowed, and what was given (an import of many entries needs both). */
const channelTypeError = (types: readonly string[]) => (issue: { input?: unknown }) =>
  `must be one of ${types.join(", ")}; got ${describeGiven(issue.input)}`;

/** The channel `type` field accepting these channel types (the built-ins, and the providers configured). */
export function channelTypeSchema(types: readonly string[]) {
  const error = channelTypeError(types);
  return z.string({ error }).refine((type) => types.includes(type), { error });
}

/** The channel input of an instance refreshing these channel types. */
export function channelInputSchemaFor(types: readonly string[]) {
  return channelInputSchema.extend({ type: channelTypeSchema(types) });
}

/** A channel as `channels.upsert` and `refresca channels import` take it (the built-in platforms). */
export const channelInputSchema = z.strictObject({
  tenantId: idSchema,
  id: idSchema.optional(),
  type: z.enum(PLATFORMS, { error: channelTypeError(PLATFORMS) }),
  displayName: z.string().trim().min(1, "must not be empty").max(200),
  localName: z.string().trim().max(200).default(""),
  accessToken: tokenSchema,
  refreshToken: tokenSchema.optional(),
  /** null: the token never expires. Absent: unknown, so the next refresh learns it. */
  expiresAt: isoDate.nullable().optional(),
  refreshTokenExpiresAt: isoDate.nullable().optional(),
  meta: metaSchema.optional(),
});
/** `type` is a built-in platform or a configured provider's id. */
export type ChannelInput = Omit<z.input<typeof channelInputSchema>, "type"> & { type: Platform };
export type ParsedChannelInput = z.output<ReturnType<typeof channelInputSchemaFor>>;

/** One readable sentence naming every offending field, e.g. `channelIds.3: must be a string`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const path = issue.path.map(String).join(".");
      if (issue.code === "unrecognized_keys") return `unknown field(s): ${issue.keys.map(shorten).join(", ")}`;
      return path ? `${shorten(path)}: ${issue.message}` : issue.message;
    })
    .join("; ");
}

// Field names come from the caller: keep a hostile 10 kB key from being echoed whole.
function shorten(text: string): string {
  return text.length > 64 ? `${text.slice(0, 61)}...` : text;
}
