/**
 * The embedded default greets a new user with a working login. The demo owner
 * goes through the same sign-up and onboarding paths as a real user, so the
 * seed cannot drift from what the portal itself does.
 */
import { appRouter, createTRPCContext } from "@tidemark/api";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { dataDir, embeddedSecret } from "@tidemark/config";
import type { Runtime } from "./runtime";

export const DEMO_EMAIL = "demo@tidemark.local";
export const DEMO_MSP = "Demo MSP";

function cookieHeader(headers: Headers): string {
  return headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
}

/** The demo account's session cookies, "mfa" when it now needs a TOTP code, or null when sign-in fails. */
async function signInDemo(auth: Runtime["auth"], password: string): Promise<Headers | "mfa" | null> {
  try {
    const signedIn = await auth.api.signInEmail({ body: { email: DEMO_EMAIL, password }, returnHeaders: true });
    if (signedIn.response && "twoFactorRedirect" in signedIn.response && signedIn.response.twoFactorRedirect) return "mfa";
    return signedIn.headers;
  } catch {
    return null;
  }
}

export async function seedDemo(runtime: Runtime): Promise<{ email: string; password: string; note?: string }> {
  // Stored under <dataDir>/secrets/ so the printed login survives restarts; a fresh
  // data dir has no password yet, hence no account to sign in to.
  const fresh = !existsSync(join(dataDir(), "secrets", "demo-password"));
  const password = embeddedSecret("demo-password", 12);
  const { auth } = runtime;
  let headers = fresh ? null : await signInDemo(auth, password);
  if (headers === "mfa") return { email: DEMO_EMAIL, password, note: "TOTP is enabled for this account" };
  if (!headers) {
    try {
      const signedUp = await auth.api.signUpEmail({ body: { name: "Demo Owner", email: DEMO_EMAIL, password }, returnHeaders: true });
      headers = signedUp.headers;
    } catch (err) {
      // Someone changed the demo password in the portal: the account is theirs now.
      return { email: DEMO_EMAIL, password: "(changed in the portal)", note: err instanceof Error ? err.message : String(err) };
    }
  }
  const requestHeaders = new Headers({ cookie: cookieHeader(headers) });
  const ctx = await createTRPCContext({ headers: requestHeaders, services: runtime.services });
  const caller = appRouter.createCaller(ctx);
  const me = await caller.me.get();
  if (!me.memberships.some((m) => m.kind === "msp")) await caller.onboarding.createMsp({ name: DEMO_MSP });
  return { email: DEMO_EMAIL, password };
}
