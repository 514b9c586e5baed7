import { lookup } from "node:dns/promises";
import ipaddr from "ipaddr.js";
import type { ResolveHost } from "./settings";

/**
 * Whether an address is on the public internet: not loopback, private, link-local (the cloud metadata address
 * 169.254.169.254 is one), CGNAT, unique-local, multicast, reserved or unspecified. An IPv4-mapped IPv6 address is
 * judged as the IPv4 address it carries; the IPv6 forms that embed IPv4 (NAT64, 6to4, Teredo) are refused.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === "ipv6" && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  return parsed.range() === "unicast";
}

/** A URL's host without IPv6 brackets. */
export const hostOf = (url: URL) => url.hostname.replace(/^\[|\]$/g, "");

/** Why a URL may not be an endpoint (checked when it is saved), or null. Host names are checked at delivery time. */
export function urlProblem(text: string, allowPrivate: boolean): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "must be an absolute URL";
  }
  if (text.length > 2048) return "must be at most 2048 characters";
  if (url.protocol !== "https:" && !(allowPrivate && url.protocol === "http:")) {
    return allowPrivate ? "must be an http or https URL" : "must be an https URL";
  }
  if (url.username || url.password) return "must not hold a user name or password";
  const host = hostOf(url);
  if (!allowPrivate && ipaddr.isValid(host) && !isPublicAddress(host)) {
    return "must point at a public address (private, loopback and link-local ones are refused)";
  }
  return null;
}

export const resolveWithDns: ResolveHost = (hostname) => lookup(hostname, { all: true, verbatim: true });

/** The addresses a delivery may connect to: all of the host's, each checked; throws naming the refused one. */
export async function checkedAddress(url: URL, allowPrivate: boolean, resolve: ResolveHost): Promise<{ address: string; family: number }> {
  const host = hostOf(url);
  const addresses = ipaddr.isValid(host) ? [{ address: host, family: host.includes(":") ? 6 : 4 }] : await resolve(host);
  if (addresses.length === 0) throw new Error(`${host} has no address`);
  if (!allowPrivate) {
    const refused = addresses.find((entry) => !isPublicAddress(entry.address));
    if (refused) throw new Error(`${host} resolves to ${refused.address}, which is not a public address: refused`);
  }
  return addresses[0]!;
}
