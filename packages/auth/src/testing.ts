/**
 * Helpers for driving better-auth through its real HTTP handler in tests:
 * a cookie jar, and an independent RFC 6238 TOTP so a test proves codes from
 * any authenticator app work, not just better-auth's own generator.
 */
import { createHmac } from "node:crypto";
import type { Auth } from "./auth";
import { markedHeaders } from "./client-address";

export class CookieJar {
  private cookies = new Map<string, string>();
  absorb(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (value === "" || /max-age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }
  has(fragment: string): boolean {
    return [...this.cookies.keys()].some((k) => k.includes(fragment));
  }
}

export type AuthClientForTests = {
  jar: CookieJar;
  post(path: string, body: unknown, extraHeaders?: Record<string, string>): Promise<{ status: number; json: any; res: Response }>;
  get(path: string): Promise<{ status: number; json: any; res: Response }>;
  headers(): Headers;
};

/** A browser-like client of `auth.handler` with its own cookies and client IP. */
export function authClient(auth: Auth, baseURL: string, ip = "203.0.113.10"): AuthClientForTests {
  const jar = new CookieJar();
  const origin = new URL(baseURL).origin;
  const call = async (method: string, path: string, body?: unknown, extra: Record<string, string> = {}) => {
    const res = await auth.handler(
      new Request(`${origin}/api/auth${path}`, {
        method,
        headers: {
          origin,
          "content-type": "application/json",
          // As if it came through the portal's HTTP server from `ip` (createAuth installed the resolver).
          ...markedHeaders(ip),
          "user-agent": "vitest",
          cookie: jar.header(),
          ...extra,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    );
    jar.absorb(res);
    const text = await res.text();
    let json: any = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    return { status: res.status, json, res };
  };
  return {
    jar,
    post: (path, body, extra) => call("POST", path, body, extra),
    get: (path) => call("GET", path),
    headers: () => new Headers({ cookie: jar.header(), ...markedHeaders(ip), "user-agent": "vitest" }),
  };
}

function base32Decode(input: string): Buffer {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of input.replace(/=+$/, "").toUpperCase()) {
    const idx = alphabet.indexOf(ch);
    if (idx < 0) throw new Error(`not base32: ${ch}`);
    value = (value << 5) | idx;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The code an authenticator app shows for an otpauth:// URI at `time`. */
export function totpFromUri(uri: string, time = Date.now()): string {
  const url = new URL(uri);
  const secret = base32Decode(url.searchParams.get("secret")!);
  const digits = Number(url.searchParams.get("digits") ?? 6);
  const period = Number(url.searchParams.get("period") ?? 30);
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(time / 1000 / period)));
  const mac = createHmac("sha1", secret).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return String(code).padStart(digits, "0");
}

/** Signs up (and so signs in) a user; returns the client holding the session cookie. */
export async function signUp(auth: Auth, baseURL: string, user: { email: string; password?: string; name?: string }, ip?: string) {
  const client = authClient(auth, baseURL, ip);
  const r = await client.post("/sign-up/email", {
    email: user.email,
    password: user.password ?? "correct horse battery",
    name: user.name ?? user.email.split("@")[0],
  });
  if (r.status !== 200) throw new Error(`sign-up failed for ${user.email}: ${r.status} ${JSON.stringify(r.json)}`);
  return { client, userId: r.json.user.id as string };
}

/** Enables TOTP for a signed-in client and confirms it with a first code; returns the otpauth URI. */
export async function enableTotp(client: AuthClientForTests, password = "correct horse battery"): Promise<string> {
  const enabled = await client.post("/two-factor/enable", { password });
  if (enabled.status !== 200) throw new Error(`enable 2FA failed: ${enabled.status} ${JSON.stringify(enabled.json)}`);
  const uri = enabled.json.totpURI as string;
  const verified = await client.post("/two-factor/verify-totp", { code: totpFromUri(uri) });
  if (verified.status !== 200) throw new Error(`confirm 2FA failed: ${verified.status} ${JSON.stringify(verified.json)}`);
  return uri;
}
