import type { Refresca } from "../refresca";
import { createApi, documentConfig } from "./app";

/**
 * The OpenAPI 3.1 document of REST API v1, without a running Refresca: the routes and their zod schemas are all it
 * needs (the typed client is generated from it, see scripts/generate-client.ts).
 */
export function openApiDocument(version?: string) {
  const unused = () => {
    throw new Error("the document's app serves no request");
  };
  const app = createApi({
    refresca: undefined as unknown as Refresca,
    authenticate: unused,
    rateLimit: unused,
    logger: undefined as never,
    ...(version && { version }),
  });
  return app.getOpenAPI31Document(documentConfig(version));
}
