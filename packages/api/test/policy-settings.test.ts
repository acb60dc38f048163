/**
 * Policy capture / consistency / verification / alert settings and the
 * customer storage quota: stored, audited, mapped to the agent's wire policy;
 * malformed input answers per field and changes nothing.
 */
import { effectivePolicy } from "@tidemark/backup";
import { schema } from "@tidemark/db";
import { count, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { postTrpc, refused, useSeededWorld } from "./fixtures";

const GiB = 1024 ** 3;

describe("policy settings and customer quota", () => {
  const world = useSeededWorld();

  const post = (path: string, input: unknown) => postTrpc(world.stack.services, path, input, world.w.ownerA.client.headers());

  const auditCount = async () => (await world.stack.database.db.select({ n: count() }).from(schema.auditEvents))[0]!.n;
  const policyRow = async (id: string) => (await world.stack.database.db.select().from(schema.policies).where(eq(schema.policies.id, id)))[0]!;
  const machine = () => ({ mspId: world.w.mspA.id, customerId: world.w.a2.id, machineId: world.w.a2Machine.id, name: "a2-srv" });

  it("defaults: VSS on, no hooks, 1 h volumes, weekly scrub, 30 min offline, 3× RPO", async () => {
    const p = await world.w.ownerA.caller.policies.create({ mspId: world.w.mspA.id, name: "Plain" });
    expect(p).toMatchObject({
      volumeIntervalSeconds: 3600,
      vss: true,
      preFreezeCommand: null,
      postThawCommand: null,
      hookTimeoutSeconds: 60,
      scrubPeriodDays: 7,
      repoCheckEveryHours: 24,
      offlineAlertMinutes: 30,
      rpoMissedFactor: 3,
    });
  });

  it("stores every setting, audits the change, and the agent's policy carries hooks, VSS and volume interval", async () => {
    const p = await world.w.ownerA.caller.policies.create({
      mspId: world.w.mspA.id,
      name: "Database servers",
      volumeIntervalSeconds: 900,
      vss: false,
      preFreezeCommand: "  psql -c 'CHECKPOINT'  ",
      postThawCommand: "",
      hookTimeoutSeconds: 120,
      scrubPeriodDays: 14,
      repoCheckEveryHours: 6,
      offlineAlertMinutes: 10,
      rpoMissedFactor: 5,
    });
    // Trimmed; an empty hook is "no hook".
    expect(p).toMatchObject({ preFreezeCommand: "psql -c 'CHECKPOINT'", postThawCommand: null, vss: false, scrubPeriodDays: 14 });
    await world.w.ownerA.caller.policies.assign({ policyId: p.id, target: { customerId: world.w.a2.id } });
    const first = await effectivePolicy(world.stack.database.db, machine());
    expect(first.policy).toMatchObject({ volumeIntervalSeconds: 900, vss: false, preFreezeCommand: "psql -c 'CHECKPOINT'", hookTimeoutSeconds: 120 });
    expect(first.policy.postThawCommand).toBeUndefined();

    const got = await world.w.techA.caller.policies.get({ policyId: p.id });
    expect(got).toMatchObject({ repoCheckEveryHours: 6, offlineAlertMinutes: 10, rpoMissedFactor: 5 });

    await world.w.ownerA.caller.policies.update({ policyId: p.id, postThawCommand: "systemctl start app", preFreezeCommand: null, vss: true });
    const second = await effectivePolicy(world.stack.database.db, machine());
    expect(second.policy).toMatchObject({ postThawCommand: "systemctl start app", vss: true });
    expect(second.policy.preFreezeCommand).toBeUndefined();
    expect(second.etag).not.toBe(first.etag);

    const [event] = await world.stack.database.db
      .select()
      .from(schema.auditEvents)
      .where(eq(schema.auditEvents.targetId, p.id))
      .orderBy(schema.auditEvents.createdAt)
      .then((rows) => rows.filter((r) => r.action === "policy.update"));
    expect(event!.metadata).toEqual({ changes: { postThawCommand: "systemctl start app", preFreezeCommand: null, vss: true } });
  });

  it("malformed settings: one clear message per field, nothing stored, nothing audited", async () => {
    const before = await policyRow(world.w.policyA.id);
    const events = await auditCount();
    const r = await post("policies.update", {
      policyId: world.w.policyA.id,
      volumeIntervalSeconds: 5,
      vss: "yes",
      preFreezeCommand: "stop-db\nrm -rf /",
      postThawCommand: "x".repeat(4097),
      hookTimeoutSeconds: 0,
      scrubPeriodDays: 1.5,
      repoCheckEveryHours: 10_000,
      offlineAlertMinutes: 1,
      rpoMissedFactor: 1,
    });
    expect(r.status).toBe(400);
    expect(r.body.error.json.data.zodError.fieldErrors).toEqual({
      volumeIntervalSeconds: ["Volume image interval must be at least 60 seconds"],
      vss: ["VSS must be on or off"],
      preFreezeCommand: ["Pre-freeze command must be a single line without control characters"],
      postThawCommand: ["Post-thaw command is at most 4096 characters"],
      hookTimeoutSeconds: ["Hook timeout must be at least 1 second"],
      scrubPeriodDays: ["Scrub period must be whole days"],
      repoCheckEveryHours: ["Repository check interval must be at most 720 hours"],
      offlineAlertMinutes: ["Offline alert delay must be at least 2 minutes"],
      rpoMissedFactor: ["RPO missed factor must be at least 2 (× the RPO)"],
    });
    expect(await policyRow(world.w.policyA.id)).toEqual(before);
    expect(await auditCount()).toBe(events);

    // A rescan interval the agent's wire policy cannot carry is refused here, not when the agent asks.
    const rescan = await post("policies.create", { mspId: world.w.mspA.id, name: "Slow", rescanEveryHours: 24 * 60 });
    expect(rescan.body.error.json.data.zodError.fieldErrors).toEqual({ rescanEveryHours: ["Full rescan interval must be at most 720 hours (30 days)"] });
  });

  it("read-only MSP users and customer admins cannot change settings", async () => {
    await refused(world.w.readOnlyA.caller.policies.update({ policyId: world.w.policyA.id, vss: false }), ["FORBIDDEN"]);
    await refused(world.w.ownerB.caller.policies.update({ policyId: world.w.policyA.id, preFreezeCommand: "curl evil" }));
    expect((await policyRow(world.w.policyA.id)).preFreezeCommand).toBeNull();
  });

  it("customer storage quota: set, shown, lifted; audited; bad values and customer admins refused", async () => {
    const customer = world.w.a1.id;
    const set = await world.w.adminA.caller.customers.update({ customerId: customer, storageQuotaBytes: 500 * GiB });
    expect(set.storageQuotaBytes).toBe(500 * GiB);
    expect((await world.w.a1Admin.caller.customers.get({ customerId: customer })).storageQuotaBytes).toBe(500 * GiB);

    const events = await auditCount();
    for (const [bad, message] of [
      [1024, "Storage quota must be at least 1 GiB (or empty for no quota)"],
      [2 * 1024 ** 5, "Storage quota must be at most 1 PiB"],
      [1.5 * GiB + 0.5, "Storage quota must be whole bytes"],
      ["lots", "Storage quota must be a number of bytes"],
    ] as const) {
      const r = await post("customers.update", { customerId: customer, storageQuotaBytes: bad });
      expect(r.body.error.json.data.zodError.fieldErrors, String(bad)).toEqual({ storageQuotaBytes: [message] });
    }
    await refused(world.w.a1Admin.caller.customers.update({ customerId: customer, storageQuotaBytes: null }), ["FORBIDDEN"]);
    await refused(world.w.ownerA.caller.customers.update({ customerId: customer }), ["BAD_REQUEST"]);
    expect(await auditCount()).toBe(events);
    expect((await world.w.ownerA.caller.customers.get({ customerId: customer })).storageQuotaBytes).toBe(500 * GiB);

    const lifted = await world.w.ownerA.caller.customers.update({ customerId: customer, storageQuotaBytes: null });
    expect(lifted.storageQuotaBytes).toBeNull();
    expect(lifted.name).toBe("A1 Dental");
    const audit = await world.stack.database.db.select().from(schema.auditEvents).where(eq(schema.auditEvents.action, "customer.update"));
    expect(audit.map((a) => a.metadata)).toEqual([
      { storageQuotaBytes: { from: null, to: 500 * GiB } },
      { storageQuotaBytes: { from: 500 * GiB, to: null } },
    ]);
  });
});
