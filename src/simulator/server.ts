import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { handleAdmin } from "./admin";
import { localControl, type SimulatorControl } from "./control";
import type { Fault } from "./faults";
import { sendGraphFault } from "./graph";
import { handleInstagramRefresh } from "./instagram";
import { handleMetaExchange, metaPlatformOf } from "./meta";
import { defaultConfig, latencyFor, mergeConfig, type SimPlatform, type SimulatorOptions } from "./options";
import { readBody, sendJson } from "./respond";
import { SimulatorState } from "./state";
import { OAuth2Simulation, type OAuth2SimControl } from "./oauth2";
import { handleThreadsRefresh, THREADS_GRANT_TYPE } from "./threads";
import { handleTikTokRefresh, sendTikTokFault } from "./tiktok";

/** A running simulator: one base URL serves every platform and the admin API. */
export interface Simulator extends SimulatorControl {
  /** e.g. http://127.0.0.1:PORT — use it for every platform's base URL (refrescaEnvFor lists the variables). */
  readonly url: string;
  readonly port: number;
  /** The generic OAuth 2.0 providers given in `oauth2`, or defined since (over HTTP too: `/_sim/oauth2/`). */
  readonly oauth2: OAuth2SimControl;
  /** Stops listening and drops every open connection, including requests held by a `timeout` fault. */
  close(): Promise<void>;
}

/** One call to a platform endpoint, recognised but not yet answered. */
interface PlatformCall {
  platform: SimPlatform;
  /** The token being exchanged (Meta, Instagram) or the refresh token (TikTok). */
  presented: string | undefined;
  answer(): void;
  fault(fault: Fault): void;
}

async function recognise(state: SimulatorState, req: IncomingMessage, res: ServerResponse, url: URL): Promise<PlatformCall | undefined> {
  const query = url.searchParams;
  if (req.method === "GET" && /^\/v\d+\.\d+\/oauth\/access_token\/?$/.test(url.pathname)) {
    const platform = metaPlatformOf(query);
    return {
      platform,
      presented: query.get("fb_exchange_token") ?? undefined,
      answer: () => handleMetaExchange(state, query, res),
      fault: (f) => sendGraphFault(res, f, platform),
    };
  }
  if (req.method === "GET" && /^(\/v\d+\.\d+)?\/refresh_access_token\/?$/.test(url.pathname)) {
    // graph.instagram.com and graph.threads.net share the path: the grant says which platform is called (anything
    // else goes to Instagram, which refuses the grant as Instagram does).
    const platform = query.get("grant_type") === THREADS_GRANT_TYPE ? "threads" : "instagram";
    return {
      platform,
      presented: query.get("access_token") ?? undefined,
      answer: () => (platform === "threads" ? handleThreadsRefresh(state, query, res) : handleInstagramRefresh(state, query, res)),
      fault: (f) => sendGraphFault(res, f, platform),
    };
  }
  if (req.method === "POST" && /^\/v2\/oauth\/token\/?$/.test(url.pathname)) {
    const form = new URLSearchParams(await readBody(req));
    return {
      platform: "tiktok",
      presented: form.get("refresh_token") ?? undefined,
      answer: () => handleTikTokRefresh(state, form, req.headers["content-type"] ?? "", res),
      fault: (f) => sendTikTokFault(res, f),
    };
  }
  return undefined;
}

async function handle(
  state: SimulatorState,
  oauth2: OAuth2Simulation,
  oauth2Control: OAuth2SimControl,
  req: IncomingMessage,
  res: ServerResponse,
  closing: AbortSignal,
): Promise<void> {
  const url = new URL(req.url ?? "/", "http://simulator");
  if (url.pathname.startsWith("/_sim/")) return handleAdmin(state, oauth2Control, req, res, url.pathname);
  const provider = oauth2.handles(req, url.pathname);
  if (provider !== undefined) return oauth2.answer(provider, req, new URLSearchParams(await readBody(req)), res);
  const call = await recognise(state, req, res, url);
  if (!call) return sendJson(res, 404, { error: "not_found", error_description: `No endpoint ${req.method} ${url.pathname}` });

  state.recordCall(call.platform, call.presented);
  state.enter();
  res.once("close", () => state.leave());
  // Taken on arrival, so that concurrent calls consume faults in the order they arrived.
  const fault = state.faults.take(call.platform);
  const latency = latencyFor(state.config, call.platform);
  if (latency > 0) await sleep(latency, undefined, { signal: closing });
  if (res.destroyed) return;
  // A timeout fault holds the request open: the client's deadline (or close()) ends it.
  if (fault?.kind === "timeout") return;
  if (fault) call.fault(fault);
  else call.answer();
}

/** Starts the platform simulator on `host:port` (default 127.0.0.1, a free port). Logs nothing. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const { port = 0, host = "127.0.0.1", oauth2: oauth2Options = {}, ...patch } = options;
  const state = new SimulatorState(mergeConfig(defaultConfig(), patch));
  let baseUrl = "";
  const oauth2 = new OAuth2Simulation(oauth2Options, () => baseUrl);
  const oauth2Control = oauth2.control();
  const closing = new AbortController();
  const server = createServer((req, res) => {
    handle(state, oauth2, oauth2Control, req, res, closing.signal).catch(() => {
      if (res.headersSent || res.destroyed) res.destroy();
      else sendJson(res, 500, { error: "simulator_error" });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => (server.off("error", reject), resolve()));
  });
  const bound = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  baseUrl = `http://${host.includes(":") ? `[${host}]` : host}:${bound}`;
  return {
    ...localControl(state, oauth2Control),
    oauth2: oauth2Control,
    url: baseUrl,
    port: bound,
    close() {
      closed ??= new Promise<void>((resolve, reject) => {
        closing.abort();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
