/**
 * Every mutation writes exactly one audit event, with who/where, in the same
 * transaction as the change: a mutation that fails after writing leaves
 * neither the change nor the event behind.
 */
import { raiseAlert } from "@tidemark/alerts";
import { schema } from "@tidemark/db";
import { and, count, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pgStack, person, procedurePaths, type Person, refused, seedWorld, tokenFromOutbox, type World } from "./fixtures";

type AuditCase = {
  action: string;
  run: (w: World) => Promise<unknown>;
  customer?: (w: World) => string | null;
  actor?: (w: World) => Person;
};

let invitee: Person;

/** In order: later cases use what earlier ones created. */
const auditCases: Record<string, AuditCase> = {
  "onboarding.createMsp": {
    action: "msp.create",
    actor: () => invitee,
    run: () => invitee.caller.onboarding.createMsp({ name: "Fresh MSP" }),
    customer: () => null,
  },
  "msp.update": { action: "msp.update", run: (w) => w.ownerA.caller.msp.update({ mspId: w.mspA.id, name: "MSP A Ltd" }), customer: () => null },
  "customers.create": { action: "customer.create", run: (w) => w.ownerA.caller.customers.create({ mspId: w.mspA.id, name: "A3" }) },
  "customers.update": { action: "customer.update", run: (w) => w.ownerA.caller.customers.update({ customerId: w.a1.id, name: "A1 Dental Group" }), customer: (w) => w.a1.id },
  "enrollment.create": { action: "enrollment_token.create", run: (w) => w.techA.caller.enrollment.create({ customerId: w.a1.id, expiresInHours: 2 }), customer: (w) => w.a1.id, actor: (w) => w.techA },
  "enrollment.revoke": { action: "enrollment_token.revoke", run: (w) => w.ownerA.caller.enrollment.revoke({ tokenId: w.a1Token.id }), customer: (w) => w.a1.id },
  "invitations.create": {
    action: "invitation.create",
    run: (w) => w.a1Admin.caller.invitations.create({ mspId: w.mspA.id, customerId: w.a1.id, email: "second@a1.test", role: "customer_user" }),
    customer: (w) => w.a1.id,
    actor: (w) => w.a1Admin,
  },
  "invitations.revoke": { action: "invitation.revoke", run: (w) => w.ownerA.caller.invitations.revoke({ invitationId: w.a1Invite.id }), customer: (w) => w.a1.id },
  "invitations.accept": {
    action: "invitation.accept",
    actor: () => secondA1,
    run: async () => secondA1.caller.invitations.accept({ token: await tokenFromOutbox(stackRef.database, "second@a1.test") }),
    customer: (w) => w.a1.id,
  },
  "members.updateRole": {
    action: "member.update_role",
    run: (w) => w.ownerA.caller.members.updateRole({ membershipId: w.a1UserMembership.id, role: "customer_admin" }),
    customer: (w) => w.a1.id,
  },
  "members.remove": { action: "member.remove", run: (w) => w.ownerA.caller.members.remove({ membershipId: w.a1UserMembership.id }), customer: (w) => w.a1.id },
  "policies.create": { action: "policy.create", run: (w) => w.adminA.caller.policies.create({ mspId: w.mspA.id, name: "Workstations", rpoSeconds: 300 }), customer: () => null, actor: (w) => w.adminA },
  "policies.update": { action: "policy.update", run: (w) => w.ownerA.caller.policies.update({ policyId: w.policyA.id, retention: { daily: 60 } }), customer: () => null },
  "policies.assign": {
    action: "policy.assign",
    run: (w) => w.ownerA.caller.policies.assign({ policyId: w.policyA.id, target: { machineId: w.a1Machine.id } }),
    customer: (w) => w.a1.id,
  },
  "restores.create": {
    action: "restore.create",
    actor: (w) => w.a1Admin,
    run: async (w) => {
      restoreJobId = (
        await w.a1Admin.caller.restores.create({ machineId: w.a1Machine.id, pointId: w.a1Point.id, paths: ["data/a.txt"], destination: "folder", targetPath: "/srv/restored", conflict: "keepBoth" })
      ).id;
    },
    customer: (w) => w.a1.id,
  },
  "restores.cancel": { action: "restore.cancel", run: (w) => w.ownerA.caller.restores.cancel({ jobId: restoreJobId }), customer: (w) => w.a1.id },
  "verification.verifyNow": { action: "verification.verify_now", run: (w) => w.ownerA.caller.verification.verifyNow({ customerId: w.a1.id }), customer: (w) => w.a1.id },
  "verification.runRestoreTest": {
    action: "verification.restore_test",
    run: (w) => w.ownerA.caller.verification.runRestoreTest({ machineId: w.a1Machine.id, pointId: w.a1Point.id }),
    customer: (w) => w.a1.id,
  },
  "alerts.channelCreate": {
    action: "alert_channel.create",
    actor: (w) => w.adminA,
    run: async (w) => {
      alertChannelId = (await w.adminA.caller.alerts.channelCreate({ mspId: w.mspA.id, kind: "email", name: "NOC", targets: ["noc@a.test"] })).channel.id;
    },
    customer: () => null,
  },
  "alerts.channelUpdate": { action: "alert_channel.update", run: (w) => w.ownerA.caller.alerts.channelUpdate({ channelId: alertChannelId, minSeverity: "info" }), customer: () => null },
  "alerts.sendTest": { action: "alert_channel.test", run: (w) => w.ownerA.caller.alerts.sendTest({ channelId: alertChannelId }), customer: () => null },
  "alerts.channelDelete": { action: "alert_channel.delete", run: (w) => w.ownerA.caller.alerts.channelDelete({ channelId: alertChannelId }), customer: () => null },
  "alerts.acknowledge": {
    action: "alert.acknowledge",
    run: async (w) => {
      // Raised by the worker in real life: no audit event of its own.
      alertId = (await raiseAlert(stackRef.database.db, { mspId: w.mspA.id, customerId: w.a1.id, machineId: w.a1Machine.id, condition: "agent_offline", severity: "warning", subject: w.a1Machine.id, title: "Agent offline", details: {} })).alertId;
      return w.ownerA.caller.alerts.acknowledge({ alertId });
    },
    customer: (w) => w.a1.id,
  },
  "alerts.resolve": { action: "alert.resolve", run: (w) => w.ownerA.caller.alerts.resolve({ alertId }), customer: (w) => w.a1.id },
  "machines.revoke": { action: "machine.revoke", run: (w) => w.ownerA.caller.machines.revoke({ machineId: w.a1Machine.id }), customer: (w) => w.a1.id },
};
let restoreJobId = "";
let alertChannelId = "";
let alertId = "";

let stackRef: Awaited<ReturnType<typeof pgStack>>;
let secondA1: Person;

const mutations = procedurePaths("mutation");

async function auditCount(mspId?: string) {
  const [row] = await stackRef.database.db
    .select({ n: count() })
    .from(schema.auditEvents)
    .where(mspId ? eq(schema.auditEvents.mspId, mspId) : undefined);
  return Number(row!.n);
}

describe("audit", () => {
  let w: World;

  beforeAll(async () => {
    stackRef = await pgStack();
    w = await seedWorld(stackRef);
    invitee = await person(stackRef, "founder@new.test");
    secondA1 = await person(stackRef, "second@a1.test");
  });
  afterAll(async () => stackRef?.database.drop());

  it("every mutation procedure has an audit case", () => {
    expect(mutations.length).toBeGreaterThanOrEqual(14);
    expect(mutations.filter((m) => !(m in auditCases))).toEqual([]);
  });

  for (const [path, c] of Object.entries(auditCases)) {
    it(`${path} writes exactly one "${c.action}" event with actor, tenant, IP and user agent`, async () => {
      const before = await auditCount();
      const started = new Date(Date.now() - 1000);
      await c.run(w);
      expect(await auditCount()).toBe(before + 1);
      const [event] = await stackRef.database.db
        .select()
        .from(schema.auditEvents)
        .orderBy(schema.auditEvents.createdAt)
        .where(eq(schema.auditEvents.action, c.action))
        .then((rows) => rows.slice(-1));
      const actor = c.actor?.(w) ?? w.ownerA;
      expect(event).toMatchObject({ action: c.action, actorUserId: actor.userId, actorEmail: actor.email, userAgent: "vitest" });
      expect(event!.ip).toMatch(/^10\./);
      expect(event!.createdAt.getTime()).toBeGreaterThanOrEqual(started.getTime());
      if (c.customer) expect(event!.customerId).toBe(c.customer(w));
      if (path !== "onboarding.createMsp") expect(event!.mspId).toBe(w.mspA.id);
    });
  }

  it("a mutation that fails after its write leaves neither the change nor an audit event", async () => {
    const [owner] = await stackRef.database.db
      .select()
      .from(schema.memberships)
      .where(and(eq(schema.memberships.userId, w.ownerA.userId), eq(schema.memberships.mspId, w.mspA.id)));
    const before = await auditCount(w.mspA.id);
    const demote = await refused(w.ownerA.caller.members.updateRole({ membershipId: owner!.id, role: "admin" }), ["BAD_REQUEST"]);
    expect(demote.message).toMatch(/at least one owner/);
    const remove = await refused(w.ownerA.caller.members.remove({ membershipId: owner!.id }), ["BAD_REQUEST"]);
    expect(remove.message).toMatch(/at least one owner/);
    const [still] = await stackRef.database.db.select().from(schema.memberships).where(eq(schema.memberships.id, owner!.id));
    expect(still!.role).toBe("owner");
    expect(await auditCount(w.mspA.id)).toBe(before);
  });

  it("refused and read-only calls write no audit events", async () => {
    const before = await auditCount();
    await refused(w.readOnlyA.caller.customers.create({ mspId: w.mspA.id, name: "nope" }), ["FORBIDDEN"]);
    await refused(w.ownerB.caller.customers.update({ customerId: w.a1.id, name: "nope" }));
    await w.ownerA.caller.customers.list({ mspId: w.mspA.id });
    expect(await auditCount()).toBe(before);
  });

  it("the audit log is filterable and pages without gaps or repeats", async () => {
    const all = await w.ownerA.caller.audit.list({ mspId: w.mspA.id, limit: 200 });
    expect(all.events.length).toBeGreaterThan(10);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await w.ownerA.caller.audit.list({ mspId: w.mspA.id, limit: 3, cursor });
      seen.push(...page.events.map((e) => e.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(all.events.map((e) => e.id));
    const policy = await w.ownerA.caller.audit.list({ mspId: w.mspA.id, action: "policy." });
    expect(new Set(policy.events.map((e) => e.action))).toEqual(new Set(["policy.create", "policy.update", "policy.assign"]));
    const byTech = await w.ownerA.caller.audit.list({ mspId: w.mspA.id, actorEmail: "tech@" });
    expect(byTech.events.map((e) => e.action)).toEqual(["enrollment_token.create"]);
    const future = await w.ownerA.caller.audit.list({ mspId: w.mspA.id, from: new Date(Date.now() + 60_000) });
    expect(future.events).toEqual([]);
    // A customer admin sees their customer's events only.
    const a1 = await w.a1Admin.caller.audit.list({ mspId: w.mspA.id, customerId: w.a1.id });
    expect(a1.events.length).toBeGreaterThan(0);
    expect(a1.events.every((e) => e.customerId === w.a1.id)).toBe(true);
    await refused(w.a1Admin.caller.audit.list({ mspId: w.mspA.id }));
  });
});

