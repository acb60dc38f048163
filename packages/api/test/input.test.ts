/**
 * Bad input through the real HTTP path the portal uses (fetch adapter +
 * superjson): per-field zod errors, clear messages, nothing written.
 */
import { schema } from "@tidemark/db";
import { count } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { postTrpc, refused, useSeededWorld } from "./fixtures";

describe("bad input", () => {
  const world = useSeededWorld();

  const post = (path: string, input: unknown, headers: Headers) => postTrpc(world.stack.services, path, input, headers);

  it("returns BAD_REQUEST with an error per field, nested fields by dotted path", async () => {
    const before = await world.stack.database.db.select({ n: count() }).from(schema.policies);
    const r = await post(
      "policies.create",
      { mspId: world.w.mspA.id, name: "", rpoSeconds: 2, retention: { daily: -1 }, spoolLimitBytes: 10 },
      world.w.ownerA.client.headers(),
    );
    expect(r.status).toBe(400);
    expect(r.body.error.json.data.code).toBe("BAD_REQUEST");
    expect(r.body.error.json.message).toBe("Some fields are invalid");
    const fields = r.body.error.json.data.zodError.fieldErrors;
    expect(fields).toEqual({
      name: ["Name is required"],
      rpoSeconds: ["RPO must be at least 5 seconds"],
      "retention.daily": ["Daily cannot be negative"],
      spoolLimitBytes: ["Spool limit must be at least 64 MiB"],
    });
    const after = await world.stack.database.db.select({ n: count() }).from(schema.policies);
    expect(after).toEqual(before);
  });

  it("names the bad id and the bad email", async () => {
    const r = await post(
      "invitations.create",
      { mspId: "not-a-uuid", email: "nope", role: "overlord" },
      world.w.ownerA.client.headers(),
    );
    const fields = r.body.error.json.data.zodError.fieldErrors;
    expect(fields.mspId).toEqual(["Not a valid MSP id"]);
    expect(fields.email).toEqual(["Enter a valid email address"]);
    expect(fields.role[0]).toMatch(/^Role must be one of: owner, admin/);
  });

  it("refuses the unauthenticated with UNAUTHORIZED over HTTP", async () => {
    const r = await post("customers.create", { mspId: world.w.mspA.id, name: "x" }, new Headers());
    expect(r.status).toBe(401);
    expect(r.body.error.json.message).toBe("Sign in to continue");
  });

  it("policies: defaults, partial retention update, customer default and machine override", async () => {
    const p = await world.w.ownerA.caller.policies.create({ mspId: world.w.mspA.id, name: "Defaults" });
    expect(p).toMatchObject({
      rpoSeconds: 60,
      includePaths: [],
      retention: { keepWithinHours: 24, hourly: 24, daily: 30, weekly: 8, monthly: 12, yearly: 3 },
      restoreTestEveryHours: 24,
    });
    const u = await world.w.ownerA.caller.policies.update({ policyId: p.id, retention: { yearly: 7 }, excludePaths: ["C:\\Temp"] });
    expect(u.retention).toEqual({ keepWithinHours: 24, hourly: 24, daily: 30, weekly: 8, monthly: 12, yearly: 7 });
    expect(u.excludePaths).toEqual(["C:\\Temp"]);
    await refused(world.w.ownerA.caller.policies.update({ policyId: p.id }), ["BAD_REQUEST"]);

    await world.w.ownerA.caller.policies.assign({ policyId: world.w.policyA.id, target: { customerId: world.w.a1.id } });
    expect((await world.w.ownerA.caller.machines.get({ machineId: world.w.a1Machine.id })).policy).toEqual({
      id: world.w.policyA.id,
      name: "Servers",
      source: "customer",
    });
    await world.w.ownerA.caller.policies.assign({ policyId: p.id, target: { machineId: world.w.a1Machine.id } });
    await world.w.ownerA.caller.policies.assign({ policyId: p.id, target: { machineId: world.w.a1Machine.id } });
    expect((await world.w.ownerA.caller.machines.get({ machineId: world.w.a1Machine.id })).policy).toEqual({
      id: p.id,
      name: "Defaults",
      source: "machine",
    });
    const got = await world.w.ownerA.caller.policies.get({ policyId: p.id });
    expect(got.assignments).toEqual([expect.objectContaining({ machineId: world.w.a1Machine.id, machineName: "a1-srv" })]);
    expect((await world.w.ownerA.caller.customers.list({ mspId: world.w.mspA.id })).map((c) => [c.name, c.machineCount])).toEqual([
      ["A1 Dental", 1],
      ["A2 Law", 1],
    ]);
  });

  it("enrollment expiry outside 1..168 hours is refused per field", async () => {
    const err = await refused(world.w.techA.caller.enrollment.create({ customerId: world.w.a1.id, expiresInHours: 500 }), ["BAD_REQUEST"]);
    expect(err.message).toMatch(/at most 168 hours/);
  });
});
