import { enableTotp } from "@tidemark/auth/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { MFA_REQUIRED_MESSAGE } from "../src";
import { type AlertSeed, seedAlerts } from "./alerts-seed";
import { callerFor, callPath, grant, procedurePaths, person, refused, useSeededWorld, type World } from "./fixtures";

/** A valid call on MSP A's own objects for every mutation: read_only must be refused on all of them. */
const ownMutations: Record<string, (w: World) => unknown> = {
  "msp.update": (w) => ({ mspId: w.mspA.id, name: "x" }),
  "customers.create": (w) => ({ mspId: w.mspA.id, name: "x" }),
  "customers.update": (w) => ({ customerId: w.a1.id, name: "x" }),
  "enrollment.create": (w) => ({ customerId: w.a1.id, expiresInHours: 1 }),
  "enrollment.revoke": (w) => ({ tokenId: w.a1Token.id }),
  "members.updateRole": (w) => ({ membershipId: w.a1UserMembership.id, role: "customer_admin" }),
  "members.remove": (w) => ({ membershipId: w.a1UserMembership.id }),
  "invitations.create": (w) => ({ mspId: w.mspA.id, customerId: w.a1.id, email: "x@a1.test", role: "customer_user" }),
  "invitations.revoke": (w) => ({ invitationId: w.a1Invite.id }),
  "policies.create": (w) => ({ mspId: w.mspA.id, name: "x" }),
  "policies.update": (w) => ({ policyId: w.policyA.id, name: "x" }),
  "policies.assign": (w) => ({ policyId: w.policyA.id, target: { customerId: w.a1.id } }),
  "machines.revoke": (w) => ({ machineId: w.a1Machine.id }),
  "restores.create": (w) => ({ machineId: w.a1Machine.id, pointId: w.a1Point.id, paths: ["data"], destination: "original", conflict: "overwrite" }),
  "restores.cancel": (w) => ({ jobId: w.a1Job.id }),
  "verification.verifyNow": (w) => ({ customerId: w.a1.id }),
  "verification.runRestoreTest": (w) => ({ machineId: w.a1Machine.id }),
  "alerts.acknowledge": () => ({ alertId: alertSeed.alertId }),
  "alerts.resolve": () => ({ alertId: alertSeed.alertId }),
  "alerts.channelCreate": (w) => ({ mspId: w.mspA.id, kind: "email", name: "x", targets: ["x@a.test"] }),
  "alerts.channelUpdate": () => ({ channelId: alertSeed.a1ChannelId, name: "x" }),
  "alerts.channelDelete": () => ({ channelId: alertSeed.a1ChannelId }),
  "alerts.sendTest": () => ({ channelId: alertSeed.mspChannelId }),
};
/** Alert objects live outside the shared world; seeded once per run below. */
let alertSeed: AlertSeed;
/** Mutations that are not tenant-addressed, so a role cannot apply to them. */
const notRoleGated = ["onboarding.createMsp", "invitations.accept"];

describe("roles", () => {
  const world = useSeededWorld();
  beforeAll(async () => {
    alertSeed = await seedAlerts(world.stack, world.w);
  });

  it("read_only can read but every tenant mutation is refused", async () => {
    const mutations = procedurePaths("mutation").filter((k) => !notRoleGated.includes(k));
    expect(mutations.filter((m) => !(m in ownMutations))).toEqual([]);
    for (const path of mutations) {
      const err = await refused(callPath(world.w.readOnlyA.caller, path, ownMutations[path]!(world.w)), ["FORBIDDEN"]);
      expect(err.message).toMatch(/read only/);
    }
    expect((await world.w.readOnlyA.caller.customers.list({ mspId: world.w.mspA.id })).length).toBe(2);
    expect((await world.w.readOnlyA.caller.machines.get({ machineId: world.w.a1Machine.id })).name).toBe("a1-srv");
  });

  it("customer_user cannot invite or enroll, but sees its own customer's machines", async () => {
    const invite = await refused(
      world.w.a1User.caller.invitations.create({ mspId: world.w.mspA.id, customerId: world.w.a1.id, email: "x@a1.test", role: "customer_user" }),
      ["FORBIDDEN"],
    );
    expect(invite.message).toBe("Your role (customer user) does not allow members.invite");
    await refused(world.w.a1User.caller.enrollment.create({ customerId: world.w.a1.id, expiresInHours: 1 }), ["FORBIDDEN"]);
    expect((await world.w.a1User.caller.machines.list({ customerId: world.w.a1.id })).map((m) => m.name)).toEqual(["a1-srv"]);
    // MSP-level views are not theirs at all.
    await refused(world.w.a1User.caller.customers.list({ mspId: world.w.mspA.id }));
    await refused(world.w.a1User.caller.policies.get({ policyId: world.w.policyA.id }));
  });

  it("technician can enroll and gets a copyable install command, but cannot change policies or people", async () => {
    const t = await world.w.techA.caller.enrollment.create({ customerId: world.w.a2.id, expiresInHours: 4 });
    expect(t.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(t.installCommand).toBe(`pnpm tidemark-agent enroll --server https://portal.tidemark.test --token=${t.token}`);
    expect(t.expiresAt.getTime() - Date.now()).toBeGreaterThan(3.9 * 3600_000);
    await refused(world.w.techA.caller.policies.update({ policyId: world.w.policyA.id, name: "x" }), ["FORBIDDEN"]);
    await refused(world.w.techA.caller.invitations.create({ mspId: world.w.mspA.id, email: "x@a.test", role: "technician" }), ["FORBIDDEN"]);
  });

  it("nobody grants above their own role", async () => {
    const err = await refused(
      world.w.a1Admin.caller.invitations.create({ mspId: world.w.mspA.id, customerId: world.w.a1.id, email: "boss@a1.test", role: "owner" }),
      ["FORBIDDEN"],
    );
    expect(err.message).toMatch(/cannot grant owner/);
    await refused(world.w.adminA.caller.invitations.create({ mspId: world.w.mspA.id, email: "o@a.test", role: "owner" }), ["FORBIDDEN"]);
    await refused(world.w.adminA.caller.msp.update({ mspId: world.w.mspA.id, name: "x" }), ["FORBIDDEN"]);
    const ok = await world.w.a1Admin.caller.invitations.create({ mspId: world.w.mspA.id, customerId: world.w.a1.id, email: "helper@a1.test", role: "customer_admin" });
    expect(ok.emailStatus).toBe("captured");
  });

  it("an MSP that requires MFA refuses MSP users without it, with a clear message, until they enrol", async () => {
    const owner = await person(world.stack, "mfa-owner@c.test");
    const msp = await owner.caller.onboarding.createMsp({ name: "MSP C" });
    const noMfa = await refused(owner.caller.msp.update({ mspId: msp.id, requireMfa: true }), ["FORBIDDEN"]);
    expect(noMfa.message).toMatch(/Enable MFA on your own account/);
    await enableTotp(owner.client);
    const ownerCaller = await callerFor(world.stack, owner.client);
    await ownerCaller.msp.update({ mspId: msp.id, requireMfa: true });

    const tech = await person(world.stack, "mfa-tech@c.test");
    await grant(world.stack.database, tech.userId, msp.id, "technician");
    const refusedErr = await refused(tech.caller.customers.list({ mspId: msp.id }), ["FORBIDDEN"]);
    expect(refusedErr.message).toBe(MFA_REQUIRED_MESSAGE);
    // The portal can still tell them what to do.
    const me = await tech.caller.me.get();
    expect(me.memberships).toEqual([expect.objectContaining({ mspId: msp.id, mfaSetupRequired: true })]);
    await enableTotp(tech.client);
    const after = await callerFor(world.stack, tech.client);
    expect(await after.customers.list({ mspId: msp.id })).toEqual([]);
    expect((await after.me.get()).mfaEnabled).toBe(true);
  });
});
