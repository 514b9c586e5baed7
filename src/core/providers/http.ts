import { Agent, request } from "undici";
import type { Platform } from "../types";
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
  platform: Platform;
  /** Tokens and app secrets sent with the call, redacted from anything the platform echoes back. */
  secrets: readonly string[];
}

export interface SendOptions {
  transport: Transport;
  timeoutMs: number;
  signal?: AbortSignal;
  context: CallContext;
}

/**
 * The default transport: undici's `request` over keep-alive connections. A third of the CPU of `fetch` per call
 * (no WHATWG streams or Request/Response objects; docs/BENCHMARKS.md), which matters at hundreds of calls a second.
 */
export function undiciTransport(agent: Agent): Transport {
  return async (url, call, signal) => {
    const response = await request(url, { ...call, signal, dispatcher: agent });
    const text = await response.body.text();
    const { headers } = response;
    return {
      status: response.statusCode,
      headers: {
        get(name) {
          const value = headers[name.toLowerCase()];
          return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
        },
      },
      text,
    };
  };
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
