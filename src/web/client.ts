/**
 * What the web server knows about the connection that Next.js does not pass on: the client's address (for sign-in
 * throttling) and whether it came over https (for the cookie's Secure flag).
 *
 * `refresca web` (src/web/serve.ts) stamps every request with this header after deleting any copy the client sent,
 * and marks the process, so the app trusts the header only when that server stamped it. Under a plain `next start`
 * the app falls back to X-Forwarded-For / X-Forwarded-Proto, which a client can forge (see the README).
 */
export const CLIENT_HEADER = "x-refresca-client";

export interface ClientInfo {
  ip: string;
  secure: boolean;
}

const marker = globalThis as typeof globalThis & { __refrescaStampsClient?: boolean };

/** Called by the web server of this process: from now on, the header is trustworthy. */
export function markClientStamping(): void {
  marker.__refrescaStampsClient = true;
}

/** What the web server puts in the header, from the socket (or, behind a trusted proxy, from its headers). */
export function describeClient(
  request: { headers: Record<string, string | string[] | undefined>; socket: { remoteAddress?: string | undefined; encrypted?: boolean } },
  trustProxy: boolean,
): ClientInfo {
  const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);
  if (trustProxy) {
    // The proxy appends the address it saw: the last entry is the one no client can choose.
    const forwarded = first(request.headers["x-forwarded-for"])?.split(",").map((part) => part.trim()).filter(Boolean);
    const proto = first(request.headers["x-forwarded-proto"])?.split(",")[0]?.trim();
    return {
      ip: forwarded?.at(-1) ?? request.socket.remoteAddress ?? "unknown",
      secure: proto === "https" || request.socket.encrypted === true,
    };
  }
  return { ip: request.socket.remoteAddress ?? "unknown", secure: request.socket.encrypted === true };
}

/** The client of the current request, from request headers (Next's `headers()`). */
export function clientFromHeaders(headers: { get(name: string): string | null }): ClientInfo {
  if (marker.__refrescaStampsClient) {
    try {
      const value = JSON.parse(headers.get(CLIENT_HEADER) ?? "") as Partial<ClientInfo>;
      if (typeof value.ip === "string" && typeof value.secure === "boolean") return { ip: value.ip, secure: value.secure };
    } catch {
      // fall through: a request that did not come through the server (should not happen)
    }
    return { ip: "unknown", secure: false };
  }
  return {
    ip: headers.get("x-forwarded-for")?.split(",")[0]?.trim() || "unknown",
    secure: headers.get("x-forwarded-proto")?.split(",")[0]?.trim() === "https",
  };
}
