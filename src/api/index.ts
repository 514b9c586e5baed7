import type { Refresca } from "../refresca";
import { createApi } from "./app";

export { createApi, API_BASE, type ApiOptions } from "./app";
export { openApiDocument } from "./document";
export { REFERENCE_PATH } from "./reference";

/** The REST API over one Refresca: its API keys authenticate, its Redis counts each key's requests. */
export function createRefrescaApi(refresca: Refresca, options: { version?: string; bodyLimitBytes?: number } = {}) {
  return createApi({
    refresca,
    authenticate: (key) => refresca.apiKeys.authenticate(key),
    rateLimit: (bucket) => refresca.rateLimiter.take(bucket),
    logger: refresca.internals.logger,
    ...options,
  });
}
