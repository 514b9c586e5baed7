import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import type { AttemptOutcome } from "../store/webhooks";
import { checkedAddress } from "./address";
import type { ResolveHost } from "./settings";

/** The receiver's answer is kept up to this many bytes. */
export const ANSWER_BYTES = 1024;

export interface WebhookAgents {
  "http:": http.Agent;
  "https:": https.Agent;
}

/**
 * One connection per attempt, closed after it (no keep-alive): the per-endpoint bound, kept across every worker by the
 * claim in SQL, is then also the most connections a receiver sees at once. Idle keep-alive sockets, one pool per
 * worker process, let the count pass the bound (measured: 8 open at a bound of 4 with two workers). `destroy` them at
 * shutdown.
 */
export function createWebhookAgents(): WebhookAgents {
  return {
    "http:": new http.Agent({ keepAlive: false, timeout: 15_000 }),
    "https:": new https.Agent({ keepAlive: false, timeout: 15_000 }),
  };
}

/** Connects to this address whatever the name resolves to now: the one that was checked. */
const pinned = (address: string, family: number): LookupFunction =>
  ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  }) as unknown as LookupFunction;

/**
 * One delivery attempt: the host's addresses are resolved and checked (unless private ones are allowed), the request
 * connects to the checked address, redirects are not followed (a 3xx is a failure), the whole attempt has a deadline,
 * and only the first kilobyte of the answer is read. Never throws.
 */
export async function sendWebhook(
  target: string,
  body: string,
  headers: Record<string, string>,
  options: { timeoutMs: number; allowPrivate: boolean; resolve: ResolveHost; agents: WebhookAgents },
): Promise<AttemptOutcome & { ok: boolean }> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return { ok: false, durationMs: 0, responseBody: "", error: "The endpoint's URL is not valid." };
  }
  const deadline = AbortSignal.timeout(options.timeoutMs);
  try {
    const { address, family } = await checkedAddress(url, options.allowPrivate, options.resolve);
    const client = url.protocol === "https:" ? https : http;
    const { status, answer } = await new Promise<{ status: number; answer: string }>((resolve, reject) => {
      const request = client.request(
        url,
        {
          method: "POST",
          agent: options.agents[url.protocol as "http:" | "https:"],
          lookup: pinned(address, family),
          signal: deadline,
          headers: {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
            "user-agent": "Refresca-Webhooks/1",
            ...headers,
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          const finish = () => resolve({ status: response.statusCode ?? 0, answer: Buffer.concat(chunks).subarray(0, ANSWER_BYTES).toString("utf8") });
          response.on("data", (chunk: Buffer) => {
            if (size >= ANSWER_BYTES) return;
            chunks.push(chunk);
            size += chunk.length;
            // Enough read: the rest is neither needed nor stored (the connection is dropped, not reused).
            if (size >= ANSWER_BYTES) {
              finish();
              response.destroy();
            }
          });
          response.on("end", finish);
          response.on("error", (error) => (size >= ANSWER_BYTES ? undefined : reject(error)));
        },
      );
      request.on("error", reject);
      request.end(body);
    });
    const ok = status >= 200 && status < 300;
    return {
      ok,
      status,
      durationMs: elapsed(),
      responseBody: answer,
      ...(!ok && { error: status >= 300 && status < 400 ? `Answered ${status} (redirects are not followed).` : `Answered ${status}.` }),
    };
  } catch (error) {
    const message = deadline.aborted ? `No answer within ${options.timeoutMs} ms.` : (error as Error).message;
    return { ok: false, durationMs: elapsed(), responseBody: "", error: message };
  }
}
