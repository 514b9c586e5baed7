import { readFile } from "node:fs/promises";
import path from "node:path";
import { createRequire } from "node:module";
import type { Hono } from "hono";

export const REFERENCE_PATH = "/api/docs";

// Served from the installed swagger-ui-dist package, not a CDN: the reference works on a machine without internet.
const ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
};

const page = (documentUrl: string) => `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Refresca REST API</title>
  <link rel="stylesheet" href="${REFERENCE_PATH}/assets/swagger-ui.css">
</head>
<body>
  <div id="reference"></div>
  <script src="${REFERENCE_PATH}/assets/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({ url: ${JSON.stringify(documentUrl)}, dom_id: "#reference", deepLinking: true, persistAuthorization: false });
  </script>
</body>
</html>`;

/** A readable reference of the API at /api/docs (Swagger UI over the generated OpenAPI document). */
export function mountReference(app: Hono<any>, documentUrl: string): void {
  const require = createRequire(import.meta.url);
  const folder = path.dirname(require.resolve("swagger-ui-dist/package.json"));
  const cache = new Map<string, Promise<Buffer>>();
  app.get(REFERENCE_PATH, (c) => c.html(page(documentUrl)));
  app.get(`${REFERENCE_PATH}/assets/:file`, async (c) => {
    const file = c.req.param("file");
    const type = ASSETS[file];
    if (!type) return c.json({ success: false, code: "NOT_FOUND", error: "No such file." }, 404);
    if (!cache.has(file)) cache.set(file, readFile(path.join(folder, file)));
    const body = await cache.get(file)!;
    return c.body(new Uint8Array(body), 200, { "content-type": type, "cache-control": "public, max-age=86400" });
  });
}
