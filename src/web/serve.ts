import { createServer, type IncomingMessage, type Server } from "node:http";
import { getRequestListener } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import { packageRoot } from "../core/package-root";
import { CLIENT_HEADER, describeClient, markClientStamping } from "./client";

/** The folder holding package.json, next.config.ts, src/app and .next. */
export const PROJECT_DIR = packageRoot();

export interface WebServerOptions {
  port: number;
  host: string;
  /** Take the client address and scheme from X-Forwarded-For/-Proto (only behind a proxy that sets them). */
  trustProxy: boolean;
  /** The REST API (`/api/v1`, `/api/docs`), answered in this process before Next sees the request. */
  api?: { fetch(request: Request): Response | Promise<Response> };
}

// The REST API's paths; everything else is Next's (its own route handlers live under other /api/ paths).
const API_PATH = /^\/api\/(v1|docs)(\/|\?|$)/;
const isApiRequest = (req: IncomingMessage) => API_PATH.test(req.url ?? "");

export interface WebServer {
  url: string;
  close(): Promise<void>;
}

/**
 * Serves the built Next.js app (`.next`) and the REST API from this process. A thin Node server in front of Next's
 * handler: it knows the connection (address, TLS) that Next does not expose, and passes it to the app in a header
 * it controls (see client.ts); and it hands the REST API's paths to the API's Hono app directly, which answers a
 * token read several times faster than a Next route handler would (docs/BENCHMARKS.md, "Token reads").
 */
export async function serveWeb(options: WebServerOptions): Promise<WebServer> {
  // Typed through "next/types": the bare "next" typings change NodeJS.ProcessEnv for the whole project.
  const specifier: string = "next";
  const { default: createNext } = (await import(specifier)) as { default: typeof import("next/types").default };
  const app = createNext({ dev: false, dir: PROJECT_DIR, hostname: options.host, port: options.port });
  await app.prepare();
  const handle = app.getRequestHandler();
  markClientStamping();
  const api = options.api && getRequestListener(options.api.fetch);
  const server: Server = createServer((req, res) => {
    if (api && isApiRequest(req)) return void api(req, res);
    delete req.headers[CLIENT_HEADER];
    req.headers[CLIENT_HEADER] = JSON.stringify(describeClient(req, options.trustProxy));
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end("Internal error");
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => (server.off("error", reject), resolve()));
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = options.host === "0.0.0.0" || options.host === "::" ? "localhost" : options.host;
  return {
    url: `http://${shownHost.includes(":") ? `[${shownHost}]` : shownHost}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 5000).unref();
      }),
  };
}
