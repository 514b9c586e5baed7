import http from "node:http";
import https from "node:https";
import type { PlatformCapabilities } from "./capabilities";
import { transportFailure } from "./classify";

/** The response headers a classifier reads; `Headers` is one. */
export interface HeaderLookup {
  get(name: string): string | null;
}

/** A platform's answer, read in full: status, headers, body text, and the body as JSON when it is JSON. */
export interface PlatformAnswer {
  status: number;
  headers: HeaderLookup;
  text: string;
  /** undefined when the body is not JSON (an HTML error page, an empty body). */
  json: unknown;
}

/** One platform call as the providers build it. */
export interface PlatformRequest {
  method: "GET" | "POST";
  headers: Record<string, string>;
  body?: string;
}

/** Sends one platform call and reads the whole answer; rejects when the call could not complete. */
export type Transport = (url: URL, call: PlatformRequest, signal: AbortSignal) => Promise<Omit<PlatformAnswer, "json">>;

/** Whose call this is and what it must never repeat in an error. */
export interface CallContext {
  /** The channel type whose platform is called. */
  platform: string;
  /** The platform's capabilities (its name and app credentials in messages). */
  capabilities: PlatformCapabilities;
  /** Tokens and app secrets sent with the call, redacted from anything the platform echoes back. */
  secrets: readonly string[];
}

export interface SendOptions {
  transport: Transport;
  timeoutMs: number;
  signal?: AbortSignal;
  context: CallContext;
}

/** Longest platform answer read; anything bigger is not a token answer and is cut off as a failed call. */
const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * The default transport: Node's own HTTP client over keep-alive connections. About a third of the CPU of `fetch`
 * per call, and none of the memory of undici's WebAssembly parser (~20 MB loaded, and a ~30 MB burst when V8
 * optimises it under load): docs/BENCHMARKS.md.
 */
export function nodeTransport(): Transport & { close(): void } {
  // Idle connections are closed after 4 s, before servers that close at 5 s (Node's default) can race a reuse.
  const options = { keepAlive: true, timeout: 4000, scheduling: "lifo" as const };
  const agents = { "http:": new http.Agent(options), "https:": new https.Agent(options) };
  const transport = (url: URL, call: PlatformRequest, signal: AbortSignal) =>
    new Promise<Omit<PlatformAnswer, "json">>((resolve, reject) => {
      const client = url.protocol === "https:" ? https : url.protocol === "http:" ? http : undefined;
      if (!client) return reject(new Error(`unsupported protocol ${url.protocol}`));
      const headers = call.body === undefined ? call.headers : { ...call.headers, "content-length": String(Buffer.byteLength(call.body)) };
      const request = client.request(url, { method: call.method, headers, agent: agents[url.protocol as "http:" | "https:"], signal }, (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          text += chunk;
          if (text.length > MAX_ANSWER_BYTES) response.destroy(new Error(`answer larger than ${MAX_ANSWER_BYTES} bytes`));
        });
        // A connection cut mid-answer, or the deadline passing, errors the response.
        response.on("error", reject);
        response.on("end", () => {
          const received = response.headers;
          resolve({
            status: response.statusCode ?? 0,
            headers: {
              get(name) {
                const value = received[name.toLowerCase()];
                return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
              },
            },
            text,
          });
        });
      });
      request.on("error", reject);
      request.end(call.body);
    });
  return Object.assign(transport, {
    close() {
      for (const agent of Object.values(agents)) agent.destroy();
    },
  });
}

/** A transport over an injected `fetch` (instrumentation, proxies, tests). */
export function fetchTransport(fetchImpl: typeof fetch): Transport {
  return async (url, call, signal) => {
    const response = await fetchImpl(url, { ...call, signal });
    return { status: response.status, headers: response.headers, text: await response.text() };
  };
}

function parseJson(text: string): unknown {
  const start = text.trimStart()[0];
  if (start !== "{" && start !== "[") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Sends one platform call under a deadline (also covering the body read) and reads the whole answer.
 * Rejects only with a RefreshError; never with anything carrying the request URL, which holds secrets for Meta.
 */
export async function send(url: URL, call: PlatformRequest, options: SendOptions): Promise<PlatformAnswer> {
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([deadline, options.signal]) : deadline;
  try {
    const answer = await options.transport(url, call, signal);
    return { ...answer, json: parseJson(answer.text) };
  } catch (error) {
    throw transportFailure(error, {
      ...options.context,
      timeoutMs: options.timeoutMs,
      timedOut: deadline.aborted,
      cancelled: options.signal?.aborted ?? false,
    });
  }
}
