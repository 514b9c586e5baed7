import { createServer, type Server } from "node:http";
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
}

export interface WebServer {
  url: string;
  close(): Promise<void>;
}

/**
 * Serves the built Next.js app (`.next`) from this process. A thin Node server in front of Next's handler, for one
 * reason: it knows the connection (address, TLS) that Next does not expose, and passes it to the app in a header
 * it controls (see client.ts).
 */
export async function serveWeb(options: WebServerOptions): Promise<WebServer> {
  // Typed through "next/types": the bare "next" typings change NodeJS.ProcessEnv for the whole project.
  const specifier: string = "next";
  const { default: createNext } = (await import(specifier)) as { default: typeof import("next/types").default };
  const app = createNext({ dev: false, dir: PROJECT_DIR, hostname: options.host, port: options.port });
  await app.prepare();
  const handle = app.getRequestHandler();
  markClientStamping();
  const server: Server = createServer((req, res) => {
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
