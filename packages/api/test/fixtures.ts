import { createAuth, type Auth } from "@tidemark/auth";
import { type AuthClientForTests, signUp } from "@tidemark/auth/testing";
import { type Database, schema } from "@tidemark/db";
import { createTestDatabase, type TestDatabase } from "@tidemark/db/testing";
import { createMailer, type Mailer } from "@tidemark/notify";
import { TRPCError } from "@trpc/server";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import superjson from "superjson";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, expect } from "vitest";
import { appRouter, createTRPCContext, type Services } from "../src";

export const baseURL = "http://localhost:3000";
export const publicUrl = "https://portal.tidemark.test";

export type Stack = { database: Database; auth: Auth; mailer: Mailer; services: Services };

export function createStack(database: Database, mailer?: Mailer): Stack {
  const m = mailer ?? createMailer({ database, from: "no-reply@tidemark.test" });
  const auth = createAuth({ database, mailer: m, baseURL, secret: "test-secret-test-secret-test-secret-1234" });
  return { database, auth, mailer: m, services: { database, auth, mailer: m, publicUrl } };
}

let ipCounter = 1;
/** Each test user signs up from its own address so sign-up rate limits never interfere. */
export const nextIp = () => `10.${(ipCounter >> 16) & 255}.${(ipCounter >> 8) & 255}.${ipCounter++ & 255}`;

export type Person = { client: AuthClientForTests; userId: string; email: string; caller: Caller };
export type Caller = ReturnType<typeof appRouter.createCaller>;

export async function callerFor(stack: Stack, client: AuthClientForTests | null): Promise<Caller> {
  const headers = client ? client.headers() : new Headers({ "x-forwarded-for": "192.0.2.1", "user-agent": "vitest" });
  return appRouter.createCaller(await createTRPCContext({ headers, services: stack.services }));
}

export async function person(stack: Stack, email: string): Promise<Person> {
  const { client, userId } = await signUp(stack.auth, baseURL, { email }, nextIp());
  return { client, userId, email, caller: await callerFor(stack, client) };
}

/** Memberships are normally made by invitations; seeding writes them directly to keep setup fast. */
export async function grant(db: Database, userId: string, mspId: string, role: schema.Role, customerId?: string) {
  await db.db.insert(schema.memberships).values({ userId, mspId, role, customerId: customerId ?? null });
}

export async function addMachine(db: Database, mspId: string, customerId: string, name: string) {
  const [m] = await db.db.insert(schema.machines).values({ mspId, customerId, name, os: "windows" }).returning();
  return m!;
}

/** Asserts a call is refused with one of the given codes and returns the error. */
export async function refused(p: Promise<unknown>, codes: TRPCError["code"][] = ["FORBIDDEN", "NOT_FOUND"]): Promise<TRPCError> {
  const result = await p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  if (result.ok) throw new Error(`expected refusal, got data: ${JSON.stringify(result.value).slice(0, 300)}`);
  expect(result.error).toBeInstanceOf(TRPCError);
  const err = result.error as TRPCError;
  expect(codes, `${err.code}: ${err.message}`).toContain(err.code);
  return err;
}

/** A committed recovery point row (no repository behind it: enough for gates, lists and restore requests). */
export async function addPoint(db: Database, machine: { id: string; mspId: string; customerId: string }, time = new Date()) {
  const [p] = await db.db
    .insert(schema.recoveryPoints)
    .values({ mspId: machine.mspId, customerId: machine.customerId, machineId: machine.id, clientPointId: `p-${time.getTime()}-${Math.random()}`, manifest: { rootTree: "0".repeat(64) }, time, consistency: "crash" })
    .returning();
  return p!;
}

export type World = Awaited<ReturnType<typeof seedWorld>>;

/** MSP A (customers A1, A2) and MSP B, with a person in every role. */
export async function seedWorld(stack: Stack) {
  const { database } = stack;
  const ownerA = await person(stack, "owner@a.test");
  const mspA = await ownerA.caller.onboarding.createMsp({ name: "MSP A" });
  const a1 = await ownerA.caller.customers.create({ mspId: mspA.id, name: "A1 Dental" });
  const a2 = await ownerA.caller.customers.create({ mspId: mspA.id, name: "A2 Law" });
  const ownerB = await person(stack, "owner@b.test");
  const mspB = await ownerB.caller.onboarding.createMsp({ name: "MSP B" });
  const b1 = await ownerB.caller.customers.create({ mspId: mspB.id, name: "B1 Bakery" });

  const adminA = await person(stack, "admin@a.test");
  const techA = await person(stack, "tech@a.test");
  const readOnlyA = await person(stack, "readonly@a.test");
  const a1Admin = await person(stack, "admin@a1.test");
  const a1User = await person(stack, "user@a1.test");
  const a2Admin = await person(stack, "admin@a2.test");
  await grant(database, adminA.userId, mspA.id, "admin");
  await grant(database, techA.userId, mspA.id, "technician");
  await grant(database, readOnlyA.userId, mspA.id, "read_only");
  await grant(database, a1Admin.userId, mspA.id, "customer_admin", a1.id);
  await grant(database, a1User.userId, mspA.id, "customer_user", a1.id);
  await grant(database, a2Admin.userId, mspA.id, "customer_admin", a2.id);

  const a1Machine = await addMachine(database, mspA.id, a1.id, "a1-srv");
  const a2Machine = await addMachine(database, mspA.id, a2.id, "a2-srv");
  const a1Point = await addPoint(database, a1Machine);
  const [a1Job] = await database.db
    .insert(schema.restoreJobs)
    .values({ mspId: mspA.id, customerId: a1.id, machineId: a1Machine.id, recoveryPointId: a1Point.id, paths: ["data"], conflict: "skip" })
    .returning();
  const policyA = await ownerA.caller.policies.create({ mspId: mspA.id, name: "Servers" });
  const a1Token = await ownerA.caller.enrollment.create({ customerId: a1.id, expiresInHours: 24 });
  const a1Invite = await ownerA.caller.invitations.create({ mspId: mspA.id, customerId: a1.id, email: "new@a1.test", role: "customer_user" });
  const [a1UserMembership] = await database.db
    .select()
    .from(schema.memberships)
    .where(eqUser(a1User.userId));
  return {
    mspA, a1, a2, mspB, b1,
    ownerA, adminA, techA, readOnlyA, a1Admin, a1User, a2Admin, ownerB,
    a1Machine, a2Machine, a1Point, a1Job: a1Job!, policyA, a1Token, a1Invite, a1UserMembership: a1UserMembership!,
  };
}

const eqUser = (userId: string) => eq(schema.memberships.userId, userId);

/** A fresh PostgreSQL database with the whole stack on it. */
export async function pgStack(): Promise<Stack & { database: TestDatabase }> {
  const database = await createTestDatabase();
  return { ...createStack(database), database };
}

/** Reads the invitation token from the captured email, as an invitee would. */
export async function tokenFromOutbox(db: Database, email: string): Promise<string> {
  const rows = await db.db.select().from(schema.outboxMessages).where(eq(schema.outboxMessages.to, email));
  const last = rows.sort((a, b) => +a.createdAt - +b.createdAt).at(-1);
  const link = last?.text.match(/\/invite\/([A-Za-z0-9_-]+)/);
  if (!link) throw new Error(`no invitation email for ${email}`);
  return link[1]!;
}

type ProcedureRecord = Record<string, { _def: { type: "query" | "mutation" | "subscription" } }>;
const procedures = appRouter._def.procedures as unknown as ProcedureRecord;

/** Every procedure path ("customers.create", …) in the router, so tests can insist on covering them all. */
export const procedurePaths = (type?: "query" | "mutation") =>
  Object.entries(procedures)
    .filter(([, p]) => !type || p._def.type === type)
    .map(([k]) => k)
    .sort();

/** Calls a procedure by its dotted path. */
export function callPath(caller: Caller, path: string, input: unknown): Promise<unknown> {
  const [ns, name] = path.split(".") as [string, string];
  return (caller as unknown as Record<string, Record<string, (i: unknown) => Promise<unknown>>>)[ns]![name]!(input);
}

/** The seeded world for one describe block: a fresh database before, dropped after. */
export function useSeededWorld() {
  const state = {} as { stack: Awaited<ReturnType<typeof pgStack>>; w: World };
  beforeAll(async () => {
    state.stack = await pgStack();
    state.w = await seedWorld(state.stack);
  });
  afterAll(async () => state.stack?.database.drop());
  return state;
}

/** One tRPC call over the real HTTP handler (the wire shape clients see), as the cookie holder. */
export async function postTrpc(services: Services, path: string, input: unknown, headers: Headers) {
  const req = new Request(`http://localhost:3000/api/trpc/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", cookie: headers.get("cookie") ?? "" },
    body: JSON.stringify(superjson.serialize(input)),
  });
  const res = await fetchRequestHandler({
    endpoint: "/api/trpc",
    req,
    router: appRouter,
    createContext: () => createTRPCContext({ headers: req.headers, services }),
  });
  return { status: res.status, body: (await res.json()) as any };
}
