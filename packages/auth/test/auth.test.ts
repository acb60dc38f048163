import { createTestDatabase, type TestDatabase } from "@tidemark/db/testing";
import { schema } from "@tidemark/db";
import { createMailer, listOutbox } from "@tidemark/notify";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Auth, createAuth } from "../src";
import { authClient, enableTotp, signUp, totpFromUri } from "../src/testing";

const baseURL = "http://localhost:3000";
const password = "correct horse battery";

describe("auth", () => {
  let database: TestDatabase;
  let auth: Auth;

  beforeAll(async () => {
    database = await createTestDatabase();
    const mailer = createMailer({ database, from: "no-reply@tidemark.test" });
    auth = createAuth({ database, mailer, baseURL, secret: "test-secret-test-secret-test-secret-1234" });
  });
  afterAll(async () => database?.drop());

  it("signs up with a scrypt hash, an HTTP-only database session, and signs in again", async () => {
    const { client, userId } = await signUp(auth, baseURL, { email: "owner@acme.test" }, "198.51.100.1");
    const setCookie = (await client.post("/sign-out", {})).res.headers.getSetCookie();
    expect(setCookie.length).toBeGreaterThan(0);
    const [account] = await database.db.select().from(schema.accounts).where(eq(schema.accounts.userId, userId));
    // scrypt as salt:key hex — memory-hard, and certainly not the plain password.
    expect(account!.password).toMatch(/^[0-9a-f]+:[0-9a-f]+$/);
    expect(account!.password).not.toContain(password);

    const again = authClient(auth, baseURL, "198.51.100.1");
    const r = await again.post("/sign-in/email", { email: "owner@acme.test", password });
    expect(r.status).toBe(200);
    const cookie = r.res.headers.getSetCookie().find((c) => c.includes("session_token"))!;
    expect(cookie).toMatch(/HttpOnly/i);
    const session = await auth.api.getSession({ headers: again.headers() });
    expect(session?.user.email).toBe("owner@acme.test");
    const rows = await database.db.select().from(schema.sessions).where(eq(schema.sessions.userId, userId));
    expect(rows.length).toBeGreaterThanOrEqual(1);
    expect(rows.some((s) => s.ipAddress === "198.51.100.1")).toBe(true);
  });

  it("refuses a wrong password clearly, then rate-limits sign-in from that address", async () => {
    await signUp(auth, baseURL, { email: "victim@acme.test" }, "198.51.100.2");
    const attacker = authClient(auth, baseURL, "198.51.100.66");
    const statuses: number[] = [];
    let firstError: any;
    for (let i = 0; i < 7; i++) {
      const r = await attacker.post("/sign-in/email", { email: "victim@acme.test", password: "wrong password!!" });
      statuses.push(r.status);
      if (i === 0) firstError = r.json;
      if (r.status === 429) {
        expect(r.res.headers.get("x-retry-after")).toMatch(/^\d+$/);
        expect(String(r.json?.message)).toMatch(/too many requests/i);
      }
    }
    expect(firstError.message).toMatch(/invalid email or password/i);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual([429, 429]);
    // The limit lives in PostgreSQL, so every instance of the portal sees it.
    const limits = await database.db.select().from(schema.rateLimits);
    expect(limits.some((l) => l.key.includes("198.51.100.66") && l.count >= 5)).toBe(true);
    // Another address is not limited by that address's count, but the account has now had five
    // wrong passwords: it refuses even the right one for a while, and says so.
    const other = authClient(auth, baseURL, "198.51.100.3");
    const locked = await other.post("/sign-in/email", { email: "victim@acme.test", password });
    expect(locked.status).toBe(429);
    expect(locked.json.code).toBe("ACCOUNT_LOCKED");
    expect(String(locked.json.message)).toMatch(/too many failed sign-in attempts for this account/i);
    // A different account from that address is unaffected.
    await signUp(auth, baseURL, { email: "bystander@acme.test" }, "198.51.100.2");
    expect((await other.post("/sign-in/email", { email: "bystander@acme.test", password })).status).toBe(200);
  });

  it("TOTP: enrol, then sign-in needs a code; wrong codes are refused and rate-limited", async () => {
    const { client } = await signUp(auth, baseURL, { email: "mfa@acme.test" }, "198.51.100.4");
    const uri = await enableTotp(client);
    const [user] = await database.db.select().from(schema.users).where(eq(schema.users.email, "mfa@acme.test"));
    expect(user!.twoFactorEnabled).toBe(true);

    const login = authClient(auth, baseURL, "198.51.100.5");
    const first = await login.post("/sign-in/email", { email: "mfa@acme.test", password });
    expect(first.status).toBe(200);
    expect(first.json.twoFactorRedirect).toBe(true);
    expect(await auth.api.getSession({ headers: login.headers() })).toBeNull();

    const wrong = await login.post("/two-factor/verify-totp", { code: "000000" === totpFromUri(uri) ? "111111" : "000000" });
    expect(wrong.status).toBe(401);
    expect(String(wrong.json.message)).toMatch(/invalid.*code/i);

    const ok = await login.post("/two-factor/verify-totp", { code: totpFromUri(uri) });
    expect(ok.status).toBe(200);
    expect((await auth.api.getSession({ headers: login.headers() }))?.user.email).toBe("mfa@acme.test");

    const brute = authClient(auth, baseURL, "198.51.100.77");
    await brute.post("/sign-in/email", { email: "mfa@acme.test", password });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await brute.post("/two-factor/verify-totp", { code: "12345" + (i % 10) })).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
  });

  it("password reset: emailed link, single use, old password stops working", async () => {
    await signUp(auth, baseURL, { email: "forgetful@acme.test" }, "198.51.100.8");
    const anon = authClient(auth, baseURL, "198.51.100.9");
    const req = await anon.post("/request-password-reset", { email: "forgetful@acme.test", redirectTo: "/reset-password" });
    expect(req.status).toBe(200);
    const [mail] = (await listOutbox(database, { limit: 10 })).filter((m) => m.to === "forgetful@acme.test");
    expect(mail?.subject).toMatch(/reset/i);
    const link = mail!.text.match(/https?:\/\/\S+/)![0];
    const token = new URL(link).pathname.split("/").pop()!;
    const reset = await anon.post("/reset-password", { token, newPassword: "a brand new passphrase" });
    expect(reset.status).toBe(200);
    const reuse = await anon.post("/reset-password", { token, newPassword: "yet another passphrase" });
    expect(reuse.status).toBe(400);
    const signIn = authClient(auth, baseURL, "198.51.100.11");
    expect((await signIn.post("/sign-in/email", { email: "forgetful@acme.test", password })).status).toBe(401);
    expect((await signIn.post("/sign-in/email", { email: "forgetful@acme.test", password: "a brand new passphrase" })).status).toBe(200);
  });
});
