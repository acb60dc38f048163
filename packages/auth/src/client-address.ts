/**
 * Who is on the other end of a request. X-Forwarded-For is written by whoever sent the request,
 * so it is believed only hop by hop from the right while each hop is a trusted proxy
 * (TRUSTED_PROXIES); with none configured the client is the socket's peer.
 *
 * Next.js hides the socket from route handlers and fills X-Forwarded-For with the peer only when
 * the header is absent, so a client could name any address. `installClientAddress` therefore
 * resolves the address where the socket is still known — Node's HTTP server, before Next sees the
 * request — and replaces X-Forwarded-For with that one address, plus a per-process mark proving it
 * did so. Every reader (better-auth's rate limits, the audit log, the agent API's limiter) then sees
 * the resolved address.
 */
import { randomBytes } from "node:crypto";
import { Server, type IncomingMessage } from "node:http";
import { BlockList, isIP } from "node:net";

export const FORWARDED_FOR = "x-forwarded-for";
/** Carries this process's mark on requests whose X-Forwarded-For was resolved here. */
export const CLIENT_ADDRESS_MARK = "x-tidemark-client-address";

export type TrustedProxies = { list: BlockList; entries: string[] };

/** "::ffff:192.0.2.1" is the IPv4 client 192.0.2.1 on a dual-stack socket. */
export function normalizeAddress(address: string): string | null {
  let a = address.trim();
  // Some proxies write "[2001:db8::1]:1234" or "192.0.2.1:1234".
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(a);
  if (bracketed) a = bracketed[1]!;
  else if (/^\d{1,3}(\.\d{1,3}){3}:\d+$/.test(a)) a = a.slice(0, a.lastIndexOf(":"));
  const mapped = /^::ffff:(\d{1,3}(\.\d{1,3}){3})$/i.exec(a);
  if (mapped) a = mapped[1]!;
  return isIP(a) ? a.toLowerCase() : null;
}

/** Parses TRUSTED_PROXIES ("10.0.0.0/8, ::1"); throws naming the bad entry. */
export function parseTrustedProxies(value: string | undefined | null): TrustedProxies {
  const list = new BlockList();
  const entries = (value ?? "")
    .split(",")
    .map((e) => e.trim())
    .filter(Boolean);
  for (const entry of entries) {
    const [ip, prefix] = entry.split("/");
    const address = normalizeAddress(ip ?? "");
    if (!address) throw new Error(`TRUSTED_PROXIES: "${entry}" is not an IP address or CIDR range`);
    const type = isIP(address) === 4 ? "ipv4" : "ipv6";
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return { list, entries };
}

function trusted(proxies: TrustedProxies, address: string): boolean {
  return proxies.entries.length > 0 && proxies.list.check(address, isIP(address) === 4 ? "ipv4" : "ipv6");
}

/**
 * The client's address: walk [...X-Forwarded-For, peer] from the right past trusted proxies.
 * An entry a trusted proxy wrote that is not an address stops the walk at that proxy, so a
 * garbled header never yields an address the client chose.
 */
export function resolveClientAddress(peer: string | null | undefined, forwardedFor: string | string[] | null | undefined, proxies: TrustedProxies): string | null {
  let client = peer ? normalizeAddress(peer) : null;
  if (!client) return null;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(",") : (forwardedFor ?? ""))
    .split(",")
    .map((h) => h.trim())
    .filter(Boolean);
  while (trusted(proxies, client) && hops.length > 0) {
    const next = normalizeAddress(hops.pop()!);
    if (!next) break;
    client = next;
  }
  return client;
}

type Installed = { proxies: TrustedProxies; mark: string };
const STATE = Symbol.for("tidemark.client-address");
const g = globalThis as typeof globalThis & { [STATE]?: Installed };

/**
 * Resolves the client address of every request this process's HTTP servers receive. Idempotent;
 * a second call replaces the trusted proxies. Requests that arrived before the call are unmarked
 * and read as "address unknown".
 */
export function installClientAddress(proxies: TrustedProxies): void {
  const state = g[STATE];
  if (state) {
    state.proxies = proxies;
    return;
  }
  const installed: Installed = { proxies, mark: randomBytes(16).toString("hex") };
  g[STATE] = installed;
  const emit = Server.prototype.emit;
  Server.prototype.emit = function (this: Server, event: string | symbol, ...args: any[]) {
    if (event === "request") {
      const req = args[0] as IncomingMessage;
      const address = resolveClientAddress(req.socket?.remoteAddress, req.headers[FORWARDED_FOR], installed.proxies);
      if (address) req.headers[FORWARDED_FOR] = address;
      else delete req.headers[FORWARDED_FOR];
      delete req.headers["x-real-ip"];
      req.headers[CLIENT_ADDRESS_MARK] = installed.mark;
    }
    return emit.apply(this, [event, ...args] as Parameters<typeof emit>);
  } as typeof emit;
}

/** The resolved client address of a request that came through `installClientAddress`, else null. */
export function clientAddress(headers: Headers): string | null {
  const state = g[STATE];
  if (!state || headers.get(CLIENT_ADDRESS_MARK) !== state.mark) return null;
  return normalizeAddress(headers.get(FORWARDED_FOR) ?? "");
}

/**
 * A request's headers for code that reads X-Forwarded-For: the resolved address alone, or no
 * header at all when the request did not come through the resolver (it then has no known address
 * rather than the one it claims, e.g. a request that arrived while the portal was starting).
 */
export function resolvedHeaders(source: Headers): Headers {
  const headers = new Headers(source);
  const address = clientAddress(headers);
  headers.delete(CLIENT_ADDRESS_MARK);
  headers.delete("x-real-ip");
  if (address) headers.set(FORWARDED_FOR, address);
  else headers.delete(FORWARDED_FOR);
  return headers;
}

/**
 * Headers as a resolved request carries them (tests that call a handler directly, without an
 * HTTP server, stand in for `installClientAddress` with this).
 */
export function markedHeaders(address: string, extra: Record<string, string> = {}): Record<string, string> {
  const state = g[STATE];
  if (!state) throw new Error("installClientAddress has not run in this process");
  return { ...extra, [FORWARDED_FOR]: address, [CLIENT_ADDRESS_MARK]: state.mark };
}
