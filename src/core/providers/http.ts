import type { Platform } from "../types";
import { transportFailure } from "./classify";

/** A platform's answer, read in full: status, headers, body text, and the body as JSON when it is JSON. */
export interface PlatformAnswer {
  status: number;
  headers: Headers;
  text: string;
  /** undefined when the body is not JSON (an HTML error page, an empty body). */
  json: unknown;
}

/** Whose call this is and what it must never repeat in an error. */
export interface CallContext {
  platform: Platform;
  /** Tokens and app secrets sent with the call, redacted from anything the platform echoes back. */
  secrets: readonly string[];
}

export interface SendOptions {
  fetch: typeof fetch;
  timeoutMs: number;
  signal?: AbortSignal;
  context: CallContext;
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
export async function send(url: URL, init: RequestInit, options: SendOptions): Promise<PlatformAnswer> {
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([deadline, options.signal]) : deadline;
  try {
    const response = await options.fetch(url, { ...init, signal });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, json: parseJson(text) };
  } catch (error) {
    throw transportFailure(error, {
      ...options.context,
      timeoutMs: options.timeoutMs,
      timedOut: deadline.aborted,
      cancelled: options.signal?.aborted ?? false,
    });
  }
}
