import { once } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { parseEnv } from "@tidemark/config";
import { schema } from "@tidemark/db";
import { createTestDatabase, type TestDatabase } from "@tidemark/db/testing";
import { createMailer } from "@tidemark/notify";
import { and, asc, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type Auth, createAuth, installClientAddress, lockSeconds, parseTrustedProxies, resolveClientAddress } from "../src";
import { authClient, enableTotp, signUp, totpFromUri } from "../src/testing";

const baseURL = "http://localhost:3000";
const password = "correct horse battery";
const secret = "test-secret-test-secret-test-secret-1234";

describe("client address (TRUSTED_PROXIES)", () => {
  const none = parseTrustedProxies(undefined);
  const lb = parseTrustedProxies("10.0.0.0/8, ::1");

  it("without trusted proxies the peer is the client, whatever X-Forwarded-For says", () => {
    expect(resolveClientAddress("192.0.2.10", "203.0.113.9", none)).toBe("192.0.2.10");
    expect(resolveClientAddress("::ffff:192.0.2.10", undefined, none)).toBe("192.0.2.10");
    expect(resolveClientAddress(null, "203.0.113.9", none)).toBeNull();
  });

  it("walks X-Forwarded-For from the right only past trusted proxies", () => {
    // Client → proxy 10.0.0.2 → load balancer 10.0.0.1 → portal. The leftmost entry is the client's own claim.
    expect(resolveClientAddress("10.0.0.1", "6.6.6.6, 198.51.100.7, 10.0.0.2", lb)).toBe("198.51.100.7");
    // A peer that is not a trusted proxy is the client: its header is ignored.
    expect(resolveClientAddress("198.51.100.7", "6.6.6.6", lb)).toBe("198.51.100.7");
    // Everything trusted: the leftmost address the chain has.
    expect(resolveClientAddress("::1", "10.1.1.1", lb)).toBe("10.1.1.1");
    // Garbage from behind a trusted proxy stops the walk at that proxy rather than believing it.
    expect(resolveClientAddress("10.0.0.1", "198.51.100.7, not-an-ip", lb)).toBe("10.0.0.1");
    expect(resolveClientAddress("10.0.0.1", "[2001:db8::5]:443", lb)).toBe("2001:db8::5");
  });

  it("the setting is validated at start with a one-line error naming it", () => {
    expect(parseEnv({ TRUSTED_PROXIES: "10.0.0.0/8,::1, 192.0.2.1" }).TRUSTED_PROXIES).toBe("10.0.0.0/8,::1, 192.0.2.1");
    expect(parseEnv({ TRUSTED_PROXIES: "" }).TRUSTED_PROXIES).toBeUndefined();
    for (const bad of ["2", "10.0.0.0/33", "proxy.local", "10.0.0.1,,"]) {
      expect(() => parseEnv({ TRUSTED_PROXIES: bad })).toThrow(/^Configuration error: TRUSTED_PROXIES must be a comma-separated list of IP addresses or CIDR ranges/);
    }
    expect(() => parseTrustedProxies("10.0.0.0/8, nope")).toThrow(/TRUSTED_PROXIES: "nope"/);
  });
});

/** The portal's shape: a Node HTTP server handing requests to auth.handler as fetch Requests. */
async function serve(auth: Auth): Promise<{ server: Server; url: string }> {
  const server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(", ") : v);
    const out = await auth.handler(
      new Request(`${baseURL}${req.url}`, { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined }),
    );
    res.writeHead(out.status, Object.fromEntries(out.headers));
    res.end(Buffer.from(await out.arrayBuffer()));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe("sign-in security", () => {
  let database: TestDatabase;
  let auth: Auth;
  let mspId: string;
  let customerId: string;

  const events = (action: string, email?: string) =>
    database.db
      .select()
      .from(schema.auditEvents)
      .where(and(eq(schema.auditEvents.action, action), email ? eq(schema.auditEvents.actorEmail, email) : undefined))
      .orderBy(asc(schema.auditEvents.createdAt));

  async function member(userId: string, scope: { customerId?: string } = {}) {
    await database.db.insert(schema.memberships).values({ userId, mspId, customerId: scope.customerId ?? null, role: scope.customerId ? "customer_admin" : "admin" });
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    const mailer = createMailer({ database, from: "no-reply@tidemark.test" });
    // Short locks so the test sees them end: 3 failures lock for 2 s, doubling to at most 4 s.
    auth = createAuth({ database, mailer, baseURL, secret, trustedProxies: "", lockout: { maxFailures: 3, windowSeconds: 60, baseLockSeconds: 2, maxLockSeconds: 4 } });
    const [msp] = await database.db.insert(schema.msps).values({ name: "Audit MSP" }).returning();
    mspId = msp!.id;
    const [customer] = await database.db.insert(schema.customers).values({ mspId, name: "Audit Customer" }).returning();
    customerId = customer!.id;
  });
  afterAll(async () => database?.drop());

  it("sign-in, a wrong password and sign-out are in the audit log of every organisation of the account", async () => {
    const { client, userId } = await signUp(auth, baseURL, { email: "staff@audit.test" }, "198.51.100.1");
    await member(userId);
    await member(userId, { customerId });
    await client.post("/sign-out", {});

    const c = authClient(auth, baseURL, "198.51.100.21");
    expect((await c.post("/sign-in/email", { email: "Staff@Audit.test", password: "wrong password!!" })).status).toBe(401);
    expect((await c.post("/sign-in/email", { email: "staff@audit.test", password })).status).toBe(200);
    expect((await c.post("/sign-out", {})).status).toBe(200);

    const failed = await events("auth.sign_in.failed", "staff@audit.test");
    expect(failed).toHaveLength(2);
    expect(failed.map((e) => e.customerId).sort()).toEqual([customerId, null].sort());
    expect(failed[0]).toMatchObject({ mspId, targetType: "user", targetId: userId, ip: "198.51.100.21", userAgent: "vitest", metadata: { reason: "invalid_password", failures: 1 } });
    const signIns = await events("auth.sign_in", "staff@audit.test");
    expect(signIns).toHaveLength(2);
    expect(signIns[0]).toMatchObject({ actorUserId: userId, ip: "198.51.100.21", metadata: { method: "password" } });
    // Two sign-outs: the sign-up session's and this one.
    const signOuts = await events("auth.sign_out", "staff@audit.test");
    expect(signOuts.filter((e) => e.ip === "198.51.100.21")).toHaveLength(2);
    expect(signOuts.filter((e) => e.ip === "198.51.100.1")).toHaveLength(2);
  });

  it("a second factor: the sign-in is recorded when the code is right, a wrong code as a failure", async () => {
    const { client, userId } = await signUp(auth, baseURL, { email: "mfa@audit.test" }, "198.51.100.2");
    await member(userId);
    const uri = await enableTotp(client);
    const c = authClient(auth, baseURL, "198.51.100.22");
    expect((await c.post("/sign-in/email", { email: "mfa@audit.test", password })).json.twoFactorRedirect).toBe(true);
    // No session yet: the password step alone is not a sign-in.
    expect(await events("auth.sign_in", "mfa@audit.test")).toHaveLength(0);
    const wrong = totpFromUri(uri) === "000000" ? "111111" : "000000";
    expect((await c.post("/two-factor/verify-totp", { code: wrong })).status).toBe(401);
    expect((await c.post("/two-factor/verify-totp", { code: totpFromUri(uri) })).status).toBe(200);
    expect(await events("auth.sign_in.failed", "mfa@audit.test")).toMatchObject([{ ip: "198.51.100.22", metadata: { reason: "invalid_code", method: "password+totp" } }]);
    expect(await events("auth.sign_in", "mfa@audit.test")).toMatchObject([{ ip: "198.51.100.22", metadata: { method: "password+totp" } }]);
  });

  it("an account without any organisation, or an email without an account, writes no audit row (and breaks nothing); the failures go to the server log", async () => {
    await signUp(auth, baseURL, { email: "loner@audit.test" }, "198.51.100.3");
    const c = authClient(auth, baseURL, "198.51.100.23");
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    try {
      expect((await c.post("/sign-in/email", { email: "loner@audit.test", password: "wrong password!!" })).status).toBe(401);
      expect((await c.post("/sign-in/email", { email: "ghost@audit.test", password: "wrong password!!" })).status).toBe(401);
      expect((await c.post("/sign-in/email", { email: "loner@audit.test", password })).status).toBe(200);
      // The audit write runs after the reply; wait for both log lines rather than a fixed time.
      await vi.waitFor(() => expect(warn.mock.calls.filter(([l]) => String(l).startsWith("auth: failed sign-in")).length).toBe(2), { timeout: 10_000 });
      const lines = warn.mock.calls.map(([l]) => String(l));
      expect(lines.some((l) => l.includes('"ghost@audit.test"') && l.includes("198.51.100.23") && l.includes("invalid_password"))).toBe(true);
      expect(lines.some((l) => l.includes('"loner@audit.test"') && l.includes("198.51.100.23"))).toBe(true);
    } finally {
      warn.mockRestore();
    }
    const rows = await database.db.select().from(schema.auditEvents).where(eq(schema.auditEvents.actorEmail, "loner@audit.test"));
    expect(rows).toEqual([]);
  });

  it("wrong passwords from many addresses lock the account for a while (audited), then it opens again with a longer lock next time", async () => {
    const { userId } = await signUp(auth, baseURL, { email: "target@audit.test" }, "198.51.100.4");
    await member(userId);
    // Three addresses, one guess each: the per-address limit never triggers, the per-account one does.
    for (const ip of ["203.0.113.1", "203.0.113.2", "203.0.113.3"]) {
      expect((await authClient(auth, baseURL, ip).post("/sign-in/email", { email: "target@audit.test", password: "guess " + ip })).status).toBe(401);
    }
    const owner = authClient(auth, baseURL, "198.51.100.4");
    const refused = await owner.post("/sign-in/email", { email: "target@audit.test", password });
    expect(refused.status).toBe(429);
    expect(refused.json).toMatchObject({ code: "ACCOUNT_LOCKED", message: "Too many failed sign-in attempts for this account. Try again in a minute." });
    expect(Number(refused.res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await events("auth.account_locked", "target@audit.test")).toMatchObject([{ ip: "203.0.113.3", metadata: { failures: 3, lockedForSeconds: 2 } }]);
    expect((await events("auth.sign_in.failed", "target@audit.test")).at(-1)).toMatchObject({ ip: "198.51.100.4", metadata: { reason: "account_locked" } });

    // The lock ends by itself; one more wrong password locks again, for twice as long.
    await new Promise((r) => setTimeout(r, 2100));
    expect((await authClient(auth, baseURL, "203.0.113.4").post("/sign-in/email", { email: "target@audit.test", password: "again wrong" })).status).toBe(401);
    expect(await events("auth.account_locked", "target@audit.test")).toHaveLength(2);
    expect((await events("auth.account_locked", "target@audit.test"))[1]).toMatchObject({ metadata: { failures: 4, lockedForSeconds: 4 } });
    expect((await owner.post("/sign-in/email", { email: "target@audit.test", password })).status).toBe(429);
    await new Promise((r) => setTimeout(r, 4100));
    // The right password clears the streak: the next wrong one starts counting from one.
    expect((await owner.post("/sign-in/email", { email: "target@audit.test", password })).status).toBe(200);
    expect((await authClient(auth, baseURL, "203.0.113.5").post("/sign-in/email", { email: "target@audit.test", password: "wrong once" })).status).toBe(401);
    expect((await owner.post("/sign-in/email", { email: "target@audit.test", password })).status).toBe(200);
  });

  it("an address over its own limit is refused before the password is looked at, and that is audited too", async () => {
    const strict = createAuth({ database, mailer: createMailer({ database, from: "x@tidemark.test" }), baseURL, secret, rateLimit: { signInPerMinute: 2 } });
    const { userId } = await signUp(strict, baseURL, { email: "limited@audit.test" }, "198.51.100.7");
    await member(userId);
    const c = authClient(strict, baseURL, "203.0.113.50");
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await c.post("/sign-in/email", { email: "limited@audit.test", password: "wrong password!!" })).status);
    expect(statuses).toEqual([401, 401, 429]);
    const reasons = (await events("auth.sign_in.failed", "limited@audit.test")).map((e) => [e.ip, (e.metadata as { reason: string }).reason]);
    expect(reasons).toEqual([
      ["203.0.113.50", "invalid_password"],
      ["203.0.113.50", "invalid_password"],
      ["203.0.113.50", "rate_limited"],
    ]);
  });

  it("better-auth's pruning of old per-address rows leaves a running per-account count alone", async () => {
    // The production policy: a 15-minute streak in a table whose address rows live for a minute.
    const standard = createAuth({ database, mailer: createMailer({ database, from: "x@tidemark.test" }), baseURL, secret });
    await signUp(standard, baseURL, { email: "pruned@audit.test" }, "198.51.100.8");
    const c = authClient(standard, baseURL, "203.0.113.60");
    expect((await c.post("/sign-in/email", { email: "pruned@audit.test", password: "wrong password!!" })).status).toBe(401);
    const t = schema.rateLimits;
    const fiveMinutesAgo = Date.now() - 5 * 60_000;
    await database.db.update(t).set({ lastRequest: fiveMinutesAgo }).where(eq(t.key, "account|pruned@audit.test"));
    // An address whose window rolled over makes better-auth prune rows older than its longest window.
    await database.db.update(t).set({ lastRequest: fiveMinutesAgo }).where(eq(t.key, "203.0.113.60|/sign-in/email"));
    const stale = await database.db.insert(t).values({ id: "stale-row", key: "192.0.2.99|/sign-in/email", count: 1, lastRequest: Date.now() - 20 * 60_000 }).returning();
    expect(stale).toHaveLength(1);
    expect((await c.post("/sign-in/email", { email: "pruned@audit.test", password: "wrong password!!" })).status).toBe(401);
    await expect.poll(async () => (await database.db.select().from(t).where(eq(t.id, "stale-row"))).length).toBe(0);
    const [row] = await database.db.select().from(t).where(eq(t.key, "account|pruned@audit.test"));
    expect(row?.count).toBe(2);
  });

  it("the lock is bounded: however many failures, it never exceeds the cap", () => {
    const policy = { maxFailures: 5, windowSeconds: 900, baseLockSeconds: 60, maxLockSeconds: 900 };
    expect([4, 5, 6, 7, 9, 1000].map((n) => lockSeconds(policy, n))).toEqual([0, 60, 120, 240, 900, 900]);
  });

  it("through an HTTP server: X-Forwarded-For counts only from trusted proxies; the socket's address otherwise", async () => {
    const { server, url } = await serve(auth);
    try {
      const { userId } = await signUp(auth, baseURL, { email: "proxied@audit.test" }, "198.51.100.5");
      await member(userId);
      const signIn = (xff?: string) =>
        fetch(`${url}/api/auth/sign-in/email`, {
          method: "POST",
          headers: { origin: baseURL, "content-type": "application/json", "user-agent": "curl", ...(xff ? { "x-forwarded-for": xff } : {}) },
          body: JSON.stringify({ email: "proxied@audit.test", password: "wrong password!!" }),
        });
      installClientAddress(parseTrustedProxies(""));
      expect((await signIn("6.6.6.6")).status).toBe(401);
      installClientAddress(parseTrustedProxies("127.0.0.1"));
      expect((await signIn("6.6.6.6, 198.51.100.77")).status).toBe(401);
      installClientAddress(parseTrustedProxies("127.0.0.1, 198.51.100.0/24"));
      expect((await signIn("198.51.100.88, 198.51.100.77")).status).toBe(401);
      const ips = (await events("auth.sign_in.failed", "proxied@audit.test")).map((e) => e.ip);
      expect(ips).toEqual(["127.0.0.1", "198.51.100.77", "198.51.100.88"]);

      // A request that did not pass the resolver (no mark) cannot name its own address.
      const { userId: other } = await signUp(auth, baseURL, { email: "direct@audit.test" }, "198.51.100.6");
      await member(other);
      const direct = await auth.handler(
        new Request(`${baseURL}/api/auth/sign-in/email`, {
          method: "POST",
          headers: { origin: baseURL, "content-type": "application/json", "x-forwarded-for": "6.6.6.6", "x-tidemark-client-address": "forged" },
          body: JSON.stringify({ email: "direct@audit.test", password: "wrong password!!" }),
        }),
      );
      expect(direct.status).toBe(401);
      expect(await events("auth.sign_in.failed", "direct@audit.test")).toMatchObject([{ ip: null, metadata: { reason: "invalid_password" } }]);
    } finally {
      installClientAddress(parseTrustedProxies(""));
      server.close();
    }
  });
});
