/**
 * Tenant isolation, table-driven over the WHOLE router: MSP B's owner and
 * customer A2's admin attack customer A1's objects through every procedure.
 * A procedure added without a case here fails the suite.
 */
import { schema } from "@tidemark/db";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callPath, pgStack, procedurePaths, refused, seedWorld, type Stack, tokenFromOutbox } from "./fixtures";

import * as alertDomain from "./isolation/alerts.cases";
import type { Case, Ctx } from "./isolation/types";
import * as verificationDomain from "./isolation/verification.cases";

// Newer domains keep their cases (and the A1 objects they attack) in test/isolation/<domain>.cases.ts.
const domains = { alerts: alertDomain, verification: verificationDomain };

const cases: Record<string, Case> = {
  ...alertDomain.cases,
  ...verificationDomain.cases,
  "me.get": {
    self: async (w, attacker) => {
      const me = await attacker.caller.me.get();
      const text = JSON.stringify(me);
      expect(text).not.toContain(w.a1.id);
      expect(me.user.id).toBe(attacker.userId);
    },
  },
  "onboarding.createMsp": {
    self: async (_w, attacker) => {
      await refused(attacker.caller.onboarding.createMsp({ name: "Second org" }), ["FORBIDDEN"]);
    },
  },
  "msp.get": { inputs: (w) => [{ mspId: w.mspA.id }] },
  "msp.update": { inputs: (w) => [{ mspId: w.mspA.id, name: "pwned" }, { mspId: w.mspA.id, requireMfa: false }] },
  "customers.list": { inputs: (w) => [{ mspId: w.mspA.id }] },
  "customers.create": { inputs: (w) => [{ mspId: w.mspA.id, name: "planted" }] },
  "customers.get": { inputs: (w) => [{ customerId: w.a1.id }] },
  "customers.update": { inputs: (w) => [{ customerId: w.a1.id, name: "pwned" }] },
  "machines.list": { inputs: (w) => [{ customerId: w.a1.id }] },
  "machines.get": { inputs: (w) => [{ machineId: w.a1Machine.id }] },
  "enrollment.create": { inputs: (w) => [{ customerId: w.a1.id, expiresInHours: 1 }] },
  "enrollment.list": { inputs: (w) => [{ customerId: w.a1.id }] },
  "enrollment.revoke": { inputs: (w) => [{ tokenId: w.a1Token.id }] },
  "members.list": { inputs: (w) => [{ customerId: w.a1.id }, { mspId: w.mspA.id }] },
  "members.updateRole": { inputs: (w) => [{ membershipId: w.a1UserMembership.id, role: "customer_admin" }] },
  "members.remove": { inputs: (w) => [{ membershipId: w.a1UserMembership.id }] },
  "invitations.create": {
    inputs: (w) => [
      { mspId: w.mspA.id, customerId: w.a1.id, email: "spy@evil.test", role: "customer_admin" },
      { mspId: w.mspA.id, email: "spy@evil.test", role: "admin" },
      // The attacker's own MSP id beside A1's customer id must not pass.
      { mspId: w.mspB.id, customerId: w.a1.id, email: "spy@evil.test", role: "customer_admin" },
    ],
  },
  "invitations.list": { inputs: (w) => [{ customerId: w.a1.id }, { mspId: w.mspA.id }] },
  "invitations.revoke": { inputs: (w) => [{ invitationId: w.a1Invite.id }] },
  "invitations.lookup": { public: "the invite page renders before sign-up; the 256-bit emailed token is the credential" },
  "invitations.accept": {
    self: async (w, attacker) => {
      // Even holding A1's token, a different signed-in user cannot join A1.
      await refused(attacker.caller.invitations.accept({ token: w.inviteToken }), ["FORBIDDEN"]);
    },
  },
  "policies.list": { inputs: (w) => [{ mspId: w.mspA.id }] },
  "policies.get": { inputs: (w) => [{ policyId: w.policyA.id }] },
  "policies.create": { inputs: (w) => [{ mspId: w.mspA.id, name: "planted" }] },
  "policies.update": { inputs: (w) => [{ policyId: w.policyA.id, rpoSeconds: 86_400 }] },
  "policies.assign": {
    inputs: (w) => [
      { policyId: w.policyA.id, target: { customerId: w.a1.id } },
      { policyId: w.policyA.id, target: { machineId: w.a1Machine.id } },
      // The attacker's own policy pushed onto A1's customer or machine.
      { policyId: w.policyB.id, target: { customerId: w.a1.id } },
      { policyId: w.policyB.id, target: { machineId: w.a1Machine.id } },
    ],
  },
  "machines.protection": { inputs: (w) => [{ customerId: w.a1.id }] },
  "machines.revoke": { inputs: (w) => [{ machineId: w.a1Machine.id }] },
  "machines.events": { inputs: (w) => [{ machineId: w.a1Machine.id }, { machineId: w.a1Machine.id, level: "error" }] },
  "customers.storage": { inputs: (w) => [{ customerId: w.a1.id }] },
  "points.list": { inputs: (w) => [{ machineId: w.a1Machine.id }, { machineId: w.a1Machine.id, from: new Date(0), to: new Date() }] },
  "points.get": { inputs: (w) => [{ pointId: w.a1Point.id }] },
  "points.changes": { inputs: (w) => [{ pointId: w.a1Point.id }] },
  "files.list": { inputs: (w) => [{ pointId: w.a1Point.id, path: "" }, { pointId: w.a1Point.id, path: "data" }] },
  "files.search": { inputs: (w) => [{ pointId: w.a1Point.id, query: "a" }] },
  "files.versions": { inputs: (w) => [{ pointId: w.a1Point.id, path: "data/a.txt" }] },
  "restores.create": {
    inputs: (w) => [
      { machineId: w.a1Machine.id, pointId: w.a1Point.id, paths: ["data"], destination: "original", conflict: "overwrite" },
      // A1's point restored onto the attacker's own (A2) machine, and the other way round.
      { machineId: w.a2Machine.id, pointId: w.a1Point.id, paths: ["data"], destination: "folder", targetPath: "/tmp/x", conflict: "skip" },
    ],
  },
  "restores.list": { inputs: (w) => [{ machineId: w.a1Machine.id }, { customerId: w.a1.id }] },
  "restores.cancel": { inputs: (w) => [{ jobId: w.a1Job.id }] },
  "audit.list": {
    inputs: (w) => [
      { mspId: w.mspA.id },
      { mspId: w.mspA.id, customerId: w.a1.id },
      { mspId: w.mspB.id, customerId: w.a1.id },
    ],
  },
};

const allPaths = procedurePaths();

describe("tenant isolation", () => {
  let stack: Awaited<ReturnType<typeof pgStack>>;
  let w: Ctx;

  beforeAll(async () => {
    stack = await pgStack();
    const world = await seedWorld(stack as Stack);
    const policyB = await world.ownerB.caller.policies.create({ mspId: world.mspB.id, name: "B servers" });
    w = { ...world, policyB, inviteToken: await tokenFromOutbox(stack.database, "new@a1.test"), seeded: {} };
    for (const [name, domain] of Object.entries(domains)) w.seeded[name] = await domain.seed(stack as Stack, w);
  });
  afterAll(async () => stack?.database.drop());

  it("every procedure in the router has an isolation case, and every case names a real procedure", () => {
    expect(allPaths.length).toBeGreaterThanOrEqual(27);
    const missing = allPaths.filter((p) => !(p in cases));
    expect(missing, `procedures without an isolation case: ${missing.join(", ")}`).toEqual([]);
    expect(Object.keys(cases).filter((k) => !allPaths.includes(k))).toEqual([]);
  });

  it("public procedures are exactly the listed ones", () => {
    const declaredPublic = Object.entries(cases).filter(([, c]) => "public" in c).map(([k]) => k);
    expect(declaredPublic).toEqual(["invitations.lookup"]);
  });

  for (const path of allPaths) {
    it(`${path}: MSP B's owner and A2's customer admin get nothing of A1`, async () => {
      const c = cases[path];
      if (!c) throw new Error(`no isolation case for ${path}`);
      if ("public" in c) return;
      for (const attacker of [w.ownerB, w.a2Admin]) {
        if ("self" in c) {
          await c.self(w, attacker);
          continue;
        }
        for (const input of c.inputs(w, attacker)) {
          const err = await refused(callPath(attacker.caller, path, input));
          expect(err.message).not.toMatch(/A1 Dental|a1-srv/);
        }
      }
    });
  }

  it("A1 is untouched after every attack, and its own people still see it", async () => {
    const { db } = stack.database;
    const [customer] = await db.select().from(schema.customers).where(eq(schema.customers.id, w.a1.id));
    expect(customer!.name).toBe("A1 Dental");
    const [msp] = await db.select().from(schema.msps).where(eq(schema.msps.id, w.mspA.id));
    expect(msp!.name).toBe("MSP A");
    const tokens = await w.ownerA.caller.enrollment.list({ customerId: w.a1.id });
    expect(tokens.map((t) => t.state)).toEqual(["active"]);
    const invitations = await w.ownerA.caller.invitations.list({ mspId: w.mspA.id });
    expect(invitations.map((i) => [i.email, i.state])).toEqual([["new@a1.test", "pending"]]);
    const members = await w.a1Admin.caller.members.list({ customerId: w.a1.id });
    expect(members.map((m) => [m.email, m.role]).sort()).toEqual([
      ["admin@a1.test", "customer_admin"],
      ["user@a1.test", "customer_user"],
    ]);
    const policy = await w.ownerA.caller.policies.get({ policyId: w.policyA.id });
    expect(policy.rpoSeconds).toBe(60);
    expect(policy.assignments).toEqual([]);
    const customers = await w.ownerA.caller.customers.list({ mspId: w.mspA.id });
    expect(customers.map((c) => c.name)).toEqual(["A1 Dental", "A2 Law"]);
    const assignments = await db.select().from(schema.policyAssignments);
    expect(assignments).toEqual([]);
    // A2's admin sees A2 and only A2.
    const machines = await w.a2Admin.caller.machines.list({ customerId: w.a2.id });
    expect(machines.map((m) => m.name)).toEqual(["a2-srv"]);
    // Backup objects: A1's machine still holds its credential state, its job is still queued, no job was planted.
    const [agent] = await db.select().from(schema.machineAgents).where(eq(schema.machineAgents.machineId, w.a1Machine.id));
    expect(agent).toBeUndefined();
    const jobs = await db.select().from(schema.restoreJobs);
    expect(jobs.map((j) => [j.id, j.state])).toEqual([[w.a1Job.id, "queued"]]);
    expect((await w.a1Admin.caller.points.get({ pointId: w.a1Point.id })).id).toBe(w.a1Point.id);
  });
});
