import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import { UnknownOAuth2Provider, type OAuth2SimControl } from "./oauth2";
import { PLATFORM_ID as PROVIDER_ID } from "../core/providers/capabilities";
import { readBody, sendJson } from "./respond";

// The admin API of the generic OAuth 2.0 endpoints under `/_sim/oauth2/`, so that a demo or another process (tests of
// a product, `refresca simulate`) can define providers, mint and revoke grants, inject faults and read counters:
//   GET   /_sim/oauth2/providers                 every provider, without secrets
//   PUT   /_sim/oauth2/providers/<id>            adds or replaces one: { clientId, clientSecret, clientAuth?, rotate?, … }
//   PATCH /_sim/oauth2/providers/<id>            changes some of its settings
//   POST  /_sim/oauth2/providers/<id>/tokens     mints an authorization: { accessExpiresInSeconds? } → 201 the tokens
//   POST  /_sim/oauth2/revoke                    { token }: ends the authorization it belongs to → { revoked }
//   POST  /_sim/oauth2/faults                    { kind, provider?, count?, forSeconds?, retryAfterSeconds?, status? }
//   GET   /_sim/oauth2/stats                     { calls, reuseDetected, callsByToken }
//   POST  /_sim/oauth2/reset                     forgets tokens, counters and faults; restores the starting providers
// Bodies are validated field by field; a bad one answers 400 naming the fields, an unknown provider 404.


/** A non-empty string, with a message saying which field is missing rather than zod's generic one. */
const credential = (name: string) =>
  z.string({ error: (issue) => (issue.input === undefined ? `${name} is required` : `${name} must be a string`) })
    .min(1, `${name} must not be empty`);

const settings = z.strictObject({
  clientId: credential("clientId"),
  clientSecret: credential("clientSecret"),
  clientAuth: z.enum(["client_secret_basic", "client_secret_post"]),
  rotate: z.boolean(),
  accessLifetimeSeconds: z.number().positive().max(10 * 366 * 86_400),
  omitExpiresIn: z.boolean(),
});
const definition = settings.partial().extend({ clientId: credential("clientId"), clientSecret: credential("clientSecret") });
const patch = settings.partial();
const issueInput = z.strictObject({ accessExpiresInSeconds: z.number().finite().optional() });
const revokeInput = z.strictObject({ token: z.string().min(1) });
const faultInput = z.strictObject({
  kind: z.enum(["throttle", "unavailable", "html502", "timeout", "malformed"]),
  provider: z.string().regex(PROVIDER_ID, "must be a provider id").optional(),
  count: z.number().int().min(1).optional(),
  forSeconds: z.number().positive().optional(),
  retryAfterSeconds: z.number().int().min(0).optional(),
  status: z.union([z.literal(500), z.literal(503)]).optional(),
});

/** A request the admin API refuses, with its status and a sentence saying why. */
class AdminError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

async function parse<T>(req: IncomingMessage, schema: z.ZodType<T>): Promise<T> {
  const text = await readBody(req);
  let body: unknown = {};
  if (text.trim() !== "") {
    try {
      body = JSON.parse(text);
    } catch {
      throw new AdminError(400, "the body is not JSON");
    }
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new AdminError(400, z.prettifyError(parsed.error));
  return parsed.data;
}

/** Answers one `/_sim/oauth2/…` request. */
export async function handleOAuth2Admin(oauth2: OAuth2SimControl, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const known = () => new Set(oauth2.providers().map((provider) => provider.id));
  try {
    const providerPath = /^\/_sim\/oauth2\/providers\/([^/]+)(\/tokens)?$/.exec(path);
    if (providerPath) {
      const id = decodeURIComponent(providerPath[1]!);
      if (!PROVIDER_ID.test(id)) throw new AdminError(400, `provider id must match ${PROVIDER_ID.source}`);
      const route = `${req.method} ${providerPath[2] ?? ""}`;
      if (route === "PUT ") return sendJson(res, 200, oauth2.define(id, await parse(req, definition)));
      if (!known().has(id)) throw new UnknownOAuth2Provider(id);
      if (route === "PATCH ") {
        oauth2.configure(id, await parse(req, patch));
        return sendJson(res, 200, oauth2.providers().find((provider) => provider.id === id));
      }
      if (route === "POST /tokens") return sendJson(res, 201, oauth2.issue(id, await parse(req, issueInput)));
      throw new AdminError(405, `no admin route ${req.method} ${path}`);
    }
    switch (`${req.method} ${path}`) {
      case "GET /_sim/oauth2/providers":
        return sendJson(res, 200, { providers: oauth2.providers() });
      case "POST /_sim/oauth2/revoke":
        return sendJson(res, 200, { revoked: oauth2.revoke((await parse(req, revokeInput)).token) });
      case "POST /_sim/oauth2/faults": {
        const fault = await parse(req, faultInput);
        // A fault for a provider nobody plays would wait forever: say so instead.
        if (fault.provider !== undefined && !known().has(fault.provider)) throw new AdminError(400, `no simulated OAuth 2.0 provider "${fault.provider}"`);
        oauth2.inject(fault);
        return sendJson(res, 200, { ok: true });
      }
      case "GET /_sim/oauth2/stats": {
        const { callsForToken: _omit, ...snapshot } = oauth2.stats();
        return sendJson(res, 200, snapshot);
      }
      case "POST /_sim/oauth2/reset":
        oauth2.reset();
        return sendJson(res, 200, { ok: true });
      default:
        throw new AdminError(404, `no admin route ${req.method} ${path}`);
    }
  } catch (error) {
    if (error instanceof UnknownOAuth2Provider) return sendJson(res, 404, { error: error.message });
    if (error instanceof AdminError) return sendJson(res, error.status, { error: error.message });
    return sendJson(res, 400, { error: error instanceof Error ? error.message : String(error) });
  }
}
