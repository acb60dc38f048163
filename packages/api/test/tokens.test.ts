import { schema } from "@tidemark/db";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { enrollMachine, hashToken, transact } from "../src";
import { callerFor, person, refused, tokenFromOutbox, useSeededWorld } from "./fixtures";

describe("invitation and enrollment tokens", () => {
  const world = useSeededWorld();

  const enroll = (token: string, name = "srv") =>
    transact(
      { services: world.stack.services, session: null, ip: "198.51.100.50", userAgent: "tidemark-agent/0.1" },
      (tx, audit) => enrollMachine(tx, audit, token, { name, os: "windows", agentVersion: "0.1.0" }),
    );

  it("stores only a hash of tokens", async () => {
    const token = await tokenFromOutbox(world.stack.database, "new@a1.test");
    const rows = await world.stack.database.db.select().from(schema.invitations);
    expect(rows.map((r) => r.tokenHash)).toEqual([hashToken(token)]);
    expect(JSON.stringify(rows)).not.toContain(token);
    const tokens = await world.stack.database.db.select().from(schema.enrollmentTokens);
    expect(JSON.stringify(tokens)).not.toContain(world.w.a1Token.token);
  });

  it("invitation: lookup, accept by the invited address only, then refuse reuse", async () => {
    const token = await tokenFromOutbox(world.stack.database, "new@a1.test");
    const anonymous = await callerFor(world.stack, null);
    expect(await anonymous.invitations.lookup({ token })).toMatchObject({
      email: "new@a1.test",
      orgName: "A1 Dental",
      mspName: "MSP A",
      role: "customer_user",
      state: "pending",
    });
    await refused(anonymous.invitations.accept({ token }), ["UNAUTHORIZED"]);
    const wrong = await refused(world.w.a1User.caller.invitations.accept({ token }), ["FORBIDDEN"]);
    expect(wrong.message).toBe("This invitation is for new@a1.test; sign in with that address to accept it");

    const invitee = await person(world.stack, "New@A1.test");
    const accepted = await invitee.caller.invitations.accept({ token });
    expect(accepted).toMatchObject({ mspId: world.w.mspA.id, customerId: world.w.a1.id, role: "customer_user" });
    const me = await invitee.caller.me.get();
    expect(me.memberships).toEqual([expect.objectContaining({ kind: "customer", customerId: world.w.a1.id, name: "A1 Dental" })]);
    expect((await invitee.caller.machines.list({ customerId: world.w.a1.id })).map((m) => m.name)).toEqual(["a1-srv"]);

    const reused = await refused(invitee.caller.invitations.accept({ token }), ["BAD_REQUEST"]);
    expect(reused.message).toBe("This invitation has already been used: ask for a new one");
    expect((await anonymous.invitations.lookup({ token })).state).toBe("accepted");
  });

  it("invitation: expired and revoked ones are refused with the reason; unknown and malformed ones too", async () => {
    await world.w.ownerA.caller.invitations.create({ mspId: world.w.mspA.id, email: "late@a.test", role: "technician" });
    const lateToken = await tokenFromOutbox(world.stack.database, "late@a.test");
    await world.stack.database.db
      .update(schema.invitations)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(schema.invitations.tokenHash, hashToken(lateToken)));
    const late = await person(world.stack, "late@a.test");
    expect((await refused(late.caller.invitations.accept({ token: lateToken }), ["BAD_REQUEST"])).message).toBe(
      "This invitation has expired: ask for a new one",
    );

    const invited = await world.w.ownerA.caller.invitations.create({ mspId: world.w.mspA.id, email: "gone@a.test", role: "read_only" });
    const goneToken = await tokenFromOutbox(world.stack.database, "gone@a.test");
    await world.w.ownerA.caller.invitations.revoke({ invitationId: invited.id });
    const gone = await person(world.stack, "gone@a.test");
    expect((await refused(gone.caller.invitations.accept({ token: goneToken }), ["BAD_REQUEST"])).message).toBe(
      "This invitation was revoked: ask for a new one",
    );
    expect((await refused(world.w.ownerA.caller.invitations.revoke({ invitationId: invited.id }), ["BAD_REQUEST"])).message).toBe(
      "This invitation is already revoked",
    );
    const anonymous = await callerFor(world.stack, null);
    await refused(anonymous.invitations.lookup({ token: "A".repeat(43) }), ["NOT_FOUND"]);
    const malformed = await refused(anonymous.invitations.lookup({ token: "short" }), ["BAD_REQUEST"]);
    expect(malformed.message).toMatch(/malformed/);
  });

  it("enrollment: a token enrolls exactly one machine; reuse, expiry, revocation and unknown tokens are refused", async () => {
    const first = await enroll(world.w.a1Token.token, "a1-new");
    expect(first).toMatchObject({ customerId: world.w.a1.id, mspId: world.w.mspA.id });
    expect(first.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const [machine] = await world.stack.database.db.select().from(schema.machines).where(eq(schema.machines.id, first.machineId));
    expect(machine!.secretHash).toBe(hashToken(first.secret));
    await expect(enroll(world.w.a1Token.token)).rejects.toThrow("This enrollment token has already been used: create a new one in the portal");
    const list = await world.w.ownerA.caller.enrollment.list({ customerId: world.w.a1.id });
    expect(list.map((t) => [t.state, t.usedByMachineId])).toEqual([["used", first.machineId]]);
    expect((await refused(world.w.ownerA.caller.enrollment.revoke({ tokenId: world.w.a1Token.id }), ["BAD_REQUEST"])).message).toBe(
      "This enrollment token is already used",
    );

    const expiring = await world.w.techA.caller.enrollment.create({ customerId: world.w.a1.id, expiresInHours: 1 });
    await world.stack.database.db
      .update(schema.enrollmentTokens)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(schema.enrollmentTokens.id, expiring.id));
    await expect(enroll(expiring.token)).rejects.toThrow(/This enrollment token expired at .*: create a new one in the portal/);

    const revoked = await world.w.techA.caller.enrollment.create({ customerId: world.w.a1.id, expiresInHours: 1 });
    await world.w.techA.caller.enrollment.revoke({ tokenId: revoked.id });
    await expect(enroll(revoked.token)).rejects.toThrow("This enrollment token was revoked: create a new one in the portal");
    await expect(enroll("x".repeat(43))).rejects.toThrow("Unknown enrollment token: create a new one in the portal");

    // Refused attempts created nothing.
    const machines = await world.w.ownerA.caller.machines.list({ customerId: world.w.a1.id });
    expect(machines.map((m) => m.name).sort()).toEqual(["a1-new", "a1-srv"]);
  });

  it("enrollment: two agents racing with one token cannot both win", async () => {
    const t = await world.w.techA.caller.enrollment.create({ customerId: world.w.a2.id, expiresInHours: 1 });
    const results = await Promise.allSettled([enroll(t.token, "race-1"), enroll(t.token, "race-2")]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(results.filter((r) => r.status === "rejected")).toHaveLength(1);
  });
});
