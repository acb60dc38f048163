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
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { createBlobAccount, kekFrom } from "@tidemark/backup";
import { protectFolder } from "@tidemark/backup/testing";
import { azuriteConnectionString, startAzurite } from "@tidemark/storage/testing";
import { handleDownload } from "../src";
import { addMachine, baseURL, callerFor, createStack, nextIp, type Stack, tokenFromOutbox } from "./fixtures";

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

  it("backup views work on the single connection: browse, download, restore request, dashboard", async () => {
    const azurite = await startAzurite({ inMemory: true });
    const src = join(dir, "src", "data");
    try {
      const blobs = createBlobAccount({ connectionString: azuriteConnectionString(azurite.blobEndpoint) });
      const kek = kekFrom(randomBytes(32));
      stack.services.repositories = async () => ({ kek, blobs });
      const owner = await signUp(stack.auth, baseURL, { email: "backup-owner@embedded.test" }, nextIp());
      const caller = await callerFor(stack, owner.client);
      const msp = await caller.onboarding.createMsp({ name: "Embedded Backup MSP" });
      const customer = await caller.customers.create({ mspId: msp.id, name: "Protected" });
      const machine = await addMachine(database, msp.id, customer.id, "embedded-srv");
      await mkdir(src, { recursive: true });
      const bytes = randomBytes(300_000);
      await writeFile(join(src, "file.bin"), bytes);
      const p = await protectFolder({ db: database.db, kek, blobs, scope: { mspId: msp.id, customerId: customer.id }, machineId: machine.id, paths: [src] });
      const root = src.replace(/^\/+/, "");
      const listed = await caller.files.list({ pointId: p.pointId, path: root });
      expect(listed.entries.map((e) => e.name)).toEqual(["file.bin"]);
      const res = await handleDownload(new Request(`http://x/api/files/download?${new URLSearchParams({ pointId: p.pointId, path: `${root}/file.bin` })}`, { headers: owner.client.headers() }), stack.services);
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
      const job = await caller.restores.create({ machineId: machine.id, pointId: p.pointId, paths: [root], destination: "original", conflict: "skip" });
      expect((await caller.restores.list({ machineId: machine.id })).map((j) => j.id)).toEqual([job.id]);
      expect((await caller.customers.storage({ customerId: customer.id })).recoveryPoints).toBe(1);
      expect((await caller.machines.protection({ customerId: customer.id }))[0]!.storedBytes).toBeGreaterThan(300_000);
    } finally {
      await azurite.stop();
    }
  }, 60_000);
});
