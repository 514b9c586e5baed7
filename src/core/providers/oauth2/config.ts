import { z } from "zod";
import { builtInCapabilities } from "../built-ins";
import { PLATFORM_ID } from "../capabilities";

// A provider configured by data (DESIGN §2, "Providers configured by data"): the same objects come from
// REFRESCA_PROVIDERS_FILE (resolved by the entry points) and from the `providers` option of createRefresca.

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;
const RESERVED_PARAMS = new Set(["grant_type", "refresh_token", "client_id", "client_secret", "scope"]);
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function tokenUrlIssue(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "must be an absolute URL";
  }
  if (url.protocol === "https:") return undefined;
  if (url.protocol === "http:" && LOOPBACK.test(url.hostname)) return undefined;
  return "must be an https URL (http only for loopback addresses)";
}

/** One generic OAuth 2.0 refresh provider (RFC 6749 §6), as configured. */
export const oauth2ProviderSchema = z.strictObject({
  /** The channel type of its channels. */
  id: z
    .string()
    .regex(PLATFORM_ID, `must match ${PLATFORM_ID.source}`)
    .refine((id) => builtInCapabilities(id) === undefined, "reuses the name of a built-in platform"),
  /** @defaultValue the id */
  displayName: z.string().trim().min(1).max(64).optional(),
  tokenUrl: z.string().superRefine((value, ctx) => {
    const issue = tokenUrlIssue(value);
    if (issue) ctx.addIssue({ code: "custom", message: issue });
  }),
  /** How the client authenticates (RFC 6749 §2.3.1). @defaultValue "client_secret_basic" */
  clientAuth: z.enum(["client_secret_basic", "client_secret_post"]).default("client_secret_basic"),
  /** Environment variables holding the client id and secret (read by the entry points only). */
  clientIdEnv: z.string().regex(ENV_NAME, "must be an environment variable name").optional(),
  clientSecretEnv: z.string().regex(ENV_NAME, "must be an environment variable name").optional(),
  /** The app credentials as values (the `providers` option; the entry points fill them from the variables). */
  clientId: z.string().min(1).optional(),
  clientSecret: z.string().min(1).optional(),
  /** Sent as `scope` with each refresh when set. */
  scope: z.string().min(1).max(1024).optional(),
  /**
   * true: single-use refresh tokens (every answer must carry the next one); false: the refresh token is kept;
   * "detect": store a refresh token whenever the answer carries one. @defaultValue "detect"
   */
  rotatesRefreshToken: z.union([z.boolean(), z.literal("detect")]).default("detect"),
  /** The access token's lifetime when the answer has no `expires_in`. @defaultValue 3600 */
  defaultLifetimeSeconds: z.number().int().positive().max(366 * 86_400).default(3600),
  /** How long before expiry a refresh is planned. @defaultValue 600 */
  leadSeconds: z.number().int().positive().max(366 * 86_400).default(600),
  /** More form parameters sent with each refresh (never the grant's own). @defaultValue {} */
  extraParams: z
    .record(z.string().min(1).max(64), z.string().max(1024))
    .refine((params) => Object.keys(params).every((name) => !RESERVED_PARAMS.has(name)), {
      message: `must not set ${[...RESERVED_PARAMS].join(", ")}`,
    })
    .default({}),
});

export type OAuth2ProviderInput = z.input<typeof oauth2ProviderSchema>;
export type OAuth2ProviderConfig = z.output<typeof oauth2ProviderSchema>;

/** A provider configuration Refresca cannot use; the message names the entry and the field. */
export class ProviderConfigError extends Error {
  override readonly name = "ProviderConfigError";
}

const providersList = z.array(z.unknown()).max(100, "at most 100 providers");

/**
 * Validates provider configurations: a list, or `{ providers: [...] }` as the providers file holds it. Throws a
 * ProviderConfigError naming the first bad entries by index, id and field, e.g.
 * `providers[1] ("acme").tokenUrl: must be an https URL`.
 */
export function parseProviderConfigs(input: unknown, source = "providers"): OAuth2ProviderConfig[] {
  const list = typeof input === "object" && input !== null && !Array.isArray(input) && "providers" in input
    ? (input as { providers: unknown }).providers
    : input;
  const array = providersList.safeParse(list);
  if (!array.success) throw new ProviderConfigError(`${source}: must be a list of providers (or { "providers": [...] }).`);
  const problems: string[] = [];
  const configs: OAuth2ProviderConfig[] = [];
  const seen = new Set<string>();
  for (const [index, entry] of array.data.entries()) {
    const id = typeof entry === "object" && entry !== null && typeof (entry as { id?: unknown }).id === "string"
      ? ` ("${String((entry as { id: string }).id).slice(0, 40)}")`
      : "";
    const parsed = oauth2ProviderSchema.safeParse(entry);
    if (!parsed.success) {
      for (const issue of parsed.error.issues.slice(0, 3)) {
        const field = issue.code === "unrecognized_keys" ? `: unknown field(s) ${issue.keys.join(", ")}` : "";
        const path = issue.path.length > 0 ? `.${issue.path.map(String).join(".")}` : "";
        problems.push(`providers[${index}]${id}${path}: ${field ? field.slice(2) : issue.message}`);
      }
      continue;
    }
    if (seen.has(parsed.data.id)) problems.push(`providers[${index}]${id}.id: appears twice`);
    seen.add(parsed.data.id);
    configs.push(parsed.data);
  }
  if (problems.length > 0) throw new ProviderConfigError(`Invalid provider configuration in ${source}: ${problems.slice(0, 5).join("; ")}`);
  return configs;
}
