import { randomBytes } from "node:crypto";
import { schema } from "@tidemark/db";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { customerDataKey, revokeMachine } from "../src";
import { Repository } from "../src/engine";
import { call, createWorld, enroll, enrollBody, heartbeatBody, issueToken, type World } from "./fixtures";

let w: World;
beforeAll(async () => {
  w = await createWorld();
});
afterAll(async () => {
  await w?.stop();
});

describe("enrollment", () => {
  it("trades a token for a working credential, the customer's data key and an initialised repository", async () => {
    const token = await issueToken(w, w.a1);
    const r = await call(w, "enroll", { body: enrollBody(token, "fs-01") });
    expect(r.status).toBe(201);
    expect(r.body.customerId).toBe(w.a1);
    const dataKey = Buffer.from(r.body.dataKey, "base64");
    expect(dataKey).toHaveLength(32);
    expect(r.body.repository.container).toMatch(/^tm-/);
    expect(r.body.repository.blobEndpoint).toBe(w.azurite.blobEndpoint);
    expect(r.body.policy.rpoSeconds).toBe(60);

    // The key in PostgreSQL is wrapped, and unwraps (with the KEK) to what the agent got.
    const [row] = await w.database.db.select().from(schema.customerKeys).where(eq(schema.customerKeys.customerId, w.a1));
    expect(Buffer.from(row!.wrappedKey, "base64").includes(dataKey)).toBe(false);
    expect((await customerDataKey(w.database.db, w.svc.kek, { mspId: w.mspId, customerId: w.a1 }))!.equals(dataKey)).toBe(true);

    // The container holds a repository the KEK opens, with the config the agent was given.
    const repo = await Repository.open(w.svc.blobs.container(w.a1).store, { kek: w.svc.kek.key });
    expect(repo.config.id).toBe(r.body.repository.config.id);
    expect(repo.config.chunker).toEqual(r.body.repository.config.chunker);
    await repo.close();

    const credential = `tmm_${r.body.machineId}.${r.body.machineSecret}`;
    const hb = await call(w, "heartbeat", { credential, body: heartbeatBody });
    expect(hb.status).toBe(200);
    const [agent] = await w.database.db.select().from(schema.machineAgents).where(eq(schema.machineAgents.machineId, r.body.machineId));
    expect(agent!.hostname).toBe(heartbeatBody.hostname);
    expect(agent!.lastHeartbeatAt).not.toBeNull();
    // The machine secret is stored only as a hash.
    const [machine] = await w.database.db.select().from(schema.machines).where(eq(schema.machines.id, r.body.machineId));
    expect(machine!.secretHash).not.toContain(r.body.machineSecret);
  });

  it("refuses a reused token, an expired token and an unknown token, and returns the data key only once", async () => {
    const token = await issueToken(w, w.a1);
    expect((await call(w, "enroll", { body: enrollBody(token, "once") })).status).toBe(201);
    const again = await call(w, "enroll", { body: enrollBody(token, "once-more") });
    expect(again.status).toBe(401);
    expect(again.body.error.code).toBe("enrollment_token_rejected");
    expect(again.body.error.message).toMatch(/already been used/);
    expect(again.body.dataKey).toBeUndefined();

    const expired = await issueToken(w, w.a1, { expiresAt: new Date(Date.now() - 1000) });
    const ex = await call(w, "enroll", { body: enrollBody(expired) });
    expect(ex.status).toBe(401);
    expect(ex.body.error.message).toMatch(/expired/);

    const unknown = await call(w, "enroll", { body: enrollBody(randomBytes(32).toString("base64url")) });
    expect(unknown.status).toBe(401);
    // Nothing was created by the refused attempts.
    const names = (await w.database.db.select({ name: schema.machines.name }).from(schema.machines)).map((m) => m.name);
    expect(names).not.toContain("once-more");
  });

  it("rejects malformed bodies with a clear 400 and consumes nothing", async () => {
    const token = await issueToken(w, w.a1);
    const bad = await call(w, "enroll", { body: { ...enrollBody(token), os: { platform: "beos" } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("invalid_request");
    expect(bad.body.error.message).toMatch(/os\.platform/);
    const notJson = await call(w, "enroll", { body: "{nope" });
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.code).toBe("invalid_json");
    expect((await call(w, "enroll", { body: enrollBody(token, "after-400") })).status).toBe(201);
  });

  it("gives each customer its own data key and container, and every machine of one customer the same key", async () => {
    const m1 = await enroll(w, w.a1, "a1-x");
    const m2 = await enroll(w, w.a1, "a1-y");
    const other = await enroll(w, w.a2, "a2-x");
    expect(m1.dataKey).toBe(m2.dataKey);
    expect(m1.repository.config.id).toBe(m2.repository.config.id);
    expect(other.dataKey).not.toBe(m1.dataKey);
    expect(other.repository.container).not.toBe(m1.repository.container);
  });

  it("re-enrolling a machine of the same name keeps its id and history and retires the old secret", async () => {
    const first = await enroll(w, w.a1, "keeper");
    const hb = await call(w, "heartbeat", { credential: first.credential, body: heartbeatBody });
    expect(hb.status).toBe(200);
    await revokeMachine(w.database.db, { mspId: w.mspId, customerId: w.a1 }, first.machineId);
    const second = await enroll(w, w.a1, "KEEPER");
    expect(second.machineId).toBe(first.machineId);
    expect(second.machineSecret).not.toBe(first.machineSecret);
    expect((await call(w, "heartbeat", { credential: first.credential, body: heartbeatBody })).status).toBe(401);
    expect((await call(w, "heartbeat", { credential: second.credential, body: heartbeatBody })).status).toBe(200);
    const rows = await w.database.db.select().from(schema.machines).where(eq(schema.machines.customerId, w.a1));
    expect(rows.filter((m) => m.name.toLowerCase() === "keeper")).toHaveLength(1);
    const [agent] = await w.database.db.select().from(schema.machineAgents).where(eq(schema.machineAgents.machineId, first.machineId));
    expect(agent!.enrollments).toBe(2);
    expect(agent!.revokedAt).toBeNull();
  });
});
