/**
 * The embedded default: the same stack on ONE PGlite instance (its start-up
 * costs seconds). Proves the migrations, better-auth and the router's
 * transactions work on a single-connection database without deadlocking.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { enableTotp, signUp } from "@tidemark/auth/testing";
import { type Database, openDatabase, schema } from "@tidemark/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { baseURL, callerFor, createStack, nextIp, type Stack, tokenFromOutbox } from "./fixtures";

describe("on PGlite", () => {
  let dir: string;
  let database: Database;
  let stack: Stack;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "tidemark-api-pglite-"));
    database = await openDatabase({ pgliteDir: dir });
    stack = createStack(database);
  });
  afterAll(async () => {
    await database?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("sign-up, MFA, onboarding, customers, invitations and audit all work", async () => {
    expect(database.kind).toBe("pglite");
    const owner = await signUp(stack.auth, baseURL, { email: "owner@embedded.test" }, nextIp());
    await enableTotp(owner.client);
    const caller = await callerFor(stack, owner.client);
    const msp = await caller.onboarding.createMsp({ name: "Embedded MSP" });
    const customer = await caller.customers.create({ mspId: msp.id, name: "First customer" });
    const invite = await caller.invitations.create({ mspId: msp.id, customerId: customer.id, email: "user@embedded.test", role: "customer_user" });
    expect(invite.emailStatus).toBe("captured");

    const user = await signUp(stack.auth, baseURL, { email: "user@embedded.test" }, nextIp());
    const userCaller = await callerFor(stack, user.client);
    await userCaller.invitations.accept({ token: await tokenFromOutbox(database, "user@embedded.test") });
    expect((await userCaller.customers.get({ customerId: customer.id })).name).toBe("First customer");

    // Concurrent requests queue on the single connection instead of interleaving.
    const names = await Promise.all(
      Array.from({ length: 5 }, (_, i) => caller.customers.create({ mspId: msp.id, name: `C${i}` }).then((c) => c.name)),
    );
    expect(names.sort()).toEqual(["C0", "C1", "C2", "C3", "C4"]);
    const events = await database.db.select().from(schema.auditEvents);
    expect(events.map((e) => e.action).sort()).toEqual(
      ["msp.create", "customer.create", "invitation.create", "invitation.accept", ...Array(5).fill("customer.create")].sort(),
    );
  });
});
