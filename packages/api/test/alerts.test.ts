/**
 * alerts.* through real callers: the alert centre, acknowledge/resolve with
 * audit, channels with a write-only webhook secret, send test against local
 * receivers, and malformed input.
 */
import { randomBytes } from "node:crypto";
import { raiseAlert } from "@tidemark/alerts";
import { startTwilioStandIn, startWebhookReceiver, type TwilioStandIn, type WebhookReceiver } from "@tidemark/alerts/testing";
import { kekFrom } from "@tidemark/backup";
import { setEnvForTests } from "@tidemark/config";
import { schema } from "@tidemark/db";
import { and, eq } from "drizzle-orm";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import superjson from "superjson";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appRouter, createTRPCContext } from "../src";
import { type AlertSeed, seedAlerts } from "./alerts-seed";
import { refused, useSeededWorld } from "./fixtures";

describe("alerts router", () => {
  const world = useSeededWorld();
  let seed: AlertSeed;
  let hook: WebhookReceiver;
  let twilio: TwilioStandIn;

  beforeAll(async () => {
    const kek = kekFrom(randomBytes(32));
    world.stack.services.repositories = async () => ({ kek, blobs: null as never });
    [hook, twilio] = await Promise.all([startWebhookReceiver(), startTwilioStandIn()]);
    setEnvForTests({ TWILIO_ACCOUNT_SID: twilio.config.accountSid, TWILIO_AUTH_TOKEN: twilio.config.authToken, TWILIO_FROM: twilio.config.from, TWILIO_BASE_URL: twilio.url });
    seed = await seedAlerts(world.stack, world.w);
    const { w } = world;
    // An A2 alert and an MSP-level one, so filters and customer scoping have something to leave out.
    await raiseAlert(world.stack.database.db, { mspId: w.mspA.id, customerId: w.a2.id, machineId: w.a2Machine.id, condition: "rpo_missed", severity: "critical", subject: w.a2Machine.id, title: "RPO missed", details: {} });
    await raiseAlert(world.stack.database.db, { mspId: w.mspA.id, condition: "storage_quota", severity: "info", subject: "msp", title: "MSP-level note", details: {} });
    await raiseAlert(world.stack.database.db, { mspId: w.mspB.id, customerId: w.b1.id, condition: "storage_quota", severity: "warning", subject: w.b1.id, title: "B quota", details: {} });
  });
  afterAll(async () => {
    setEnvForTests({});
    await Promise.all([hook?.close(), twilio?.close()]);
  });

  it("lists with filters and counts; customer admins see only their customer's alerts", async () => {
    const { w } = world;
    const all = await w.ownerA.caller.alerts.list({ mspId: w.mspA.id });
    expect(all.alerts.map((a) => a.title).sort()).toEqual(["Agent offline", "MSP-level note", "RPO missed"]);
    expect(all.total).toBe(3);
    expect(all.counts).toEqual({ open: 3, acknowledged: 0, critical: 1, warning: 1, info: 1 });
    const a1 = all.alerts.find((a) => a.id === seed.alertId)!;
    expect(a1).toMatchObject({ customerName: "A1 Dental", machineName: "a1-srv", state: "open", resolvedAutomatically: false });
    expect(a1).not.toHaveProperty("dedupeKey");

    expect((await w.ownerA.caller.alerts.list({ mspId: w.mspA.id, severity: ["critical"] })).alerts.map((a) => a.title)).toEqual(["RPO missed"]);
    expect((await w.ownerA.caller.alerts.list({ mspId: w.mspA.id, customerId: w.a1.id })).alerts.map((a) => a.id)).toEqual([seed.alertId]);
    expect((await w.ownerA.caller.alerts.list({ mspId: w.mspA.id, machineId: w.a2Machine.id })).alerts.map((a) => a.title)).toEqual(["RPO missed"]);
    expect((await w.ownerA.caller.alerts.list({ mspId: w.mspA.id, state: ["resolved"] })).alerts).toEqual([]);
    const page1 = await w.ownerA.caller.alerts.list({ mspId: w.mspA.id, limit: 2 });
    expect(page1.alerts).toHaveLength(2);
    expect(page1.nextCursor).toBe(2);
    const page2 = await w.ownerA.caller.alerts.list({ mspId: w.mspA.id, limit: 2, cursor: page1.nextCursor! });
    expect(page2.nextCursor).toBeNull();
    expect(new Set([...page1.alerts, ...page2.alerts].map((a) => a.id)).size).toBe(3);

    const mine = await w.a1Admin.caller.alerts.list({ customerId: w.a1.id });
    expect(mine.alerts.map((a) => a.id)).toEqual([seed.alertId]);
    expect(mine.counts.open).toBe(1);
    expect(await w.a1Admin.caller.alerts.counts({ customerId: w.a1.id })).toEqual({ open: 1, acknowledged: 0, critical: 0, warning: 1, info: 0 });
    const got = await w.a1Admin.caller.alerts.get({ alertId: seed.alertId });
    expect(got.title).toBe("Agent offline");
    expect(got.deliveries).toEqual([]);
    // The MSP-level alert is not theirs; customer users have no alerts.read.
    const mspLevel = all.alerts.find((a) => a.title === "MSP-level note")!;
    await refused(w.a1Admin.caller.alerts.get({ alertId: mspLevel.id }), ["NOT_FOUND"]);
    await refused(w.a1User.caller.alerts.list({ customerId: w.a1.id }), ["FORBIDDEN"]);
    const staff = await w.ownerA.caller.alerts.get({ alertId: seed.alertId });
    // The A1 email override replaces only the MSP's email defaults: the MSP webhook (another kind) gets it too.
    expect(staff.deliveries.map((d) => [d.channelName, d.event, d.state]).sort()).toEqual([
      ["A NOC hook", "opened", "pending"],
      ["A1 IT", "opened", "pending"],
    ]);
  });

  it("acknowledge and resolve are audited in the same transaction; read-only and customer admins cannot", async () => {
    const { w } = world;
    await refused(w.readOnlyA.caller.alerts.acknowledge({ alertId: seed.alertId }), ["FORBIDDEN"]);
    await refused(w.a1Admin.caller.alerts.acknowledge({ alertId: seed.alertId }), ["FORBIDDEN"]);
    const acked = await w.techA.caller.alerts.acknowledge({ alertId: seed.alertId });
    expect(acked.state).toBe("acknowledged");
    const view = await w.ownerA.caller.alerts.get({ alertId: seed.alertId });
    expect(view).toMatchObject({ state: "acknowledged", acknowledgedByEmail: "tech@a.test" });
    const resolved = await w.techA.caller.alerts.resolve({ alertId: seed.alertId });
    expect(resolved.state).toBe("resolved");
    const again = await refused(w.techA.caller.alerts.resolve({ alertId: seed.alertId }), ["CONFLICT"]);
    expect(again.message).toMatch(/already resolved/);
    const events = await world.stack.database.db
      .select()
      .from(schema.auditEvents)
      .where(and(eq(schema.auditEvents.targetId, seed.alertId), eq(schema.auditEvents.targetType, "alert")));
    expect(events.map((e) => [e.action, e.actorEmail, e.customerId])).toEqual([
      ["alert.acknowledge", "tech@a.test", w.a1.id],
      ["alert.resolve", "tech@a.test", w.a1.id],
    ]);
    const after = await w.ownerA.caller.alerts.get({ alertId: seed.alertId });
    expect(after).toMatchObject({ state: "resolved", resolvedByEmail: "tech@a.test", resolvedAutomatically: false });
    expect(after.deliveries.map((d) => d.event).sort()).toEqual(["opened", "opened", "resolved", "resolved"]);
  });

  it("webhook channel: secret generated once, never listed, sealed at rest; send test signs with it", async () => {
    const { w } = world;
    const created = await w.adminA.caller.alerts.channelCreate({ mspId: w.mspA.id, kind: "webhook", name: "Slack", targets: [hook.url], minSeverity: "info" });
    expect(created.generatedSecret).toMatch(/^[0-9a-f]{64}$/);
    expect(created.channel).toMatchObject({ kind: "webhook", hasSecret: true, customerId: null });
    const secret = created.generatedSecret!;
    const listed = await w.ownerA.caller.alerts.channelsList({ mspId: w.mspA.id });
    expect(JSON.stringify(listed)).not.toContain(secret);
    expect(listed.find((c) => c.id === created.channel.id)).not.toHaveProperty("secretEncrypted");
    const [row] = await world.stack.database.db.select().from(schema.alertChannels).where(eq(schema.alertChannels.id, created.channel.id));
    expect(row!.secretEncrypted).toBeTruthy();
    expect(row!.secretEncrypted).not.toContain(secret);
    expect(Buffer.from(row!.secretEncrypted!, "base64").toString("hex")).not.toContain(secret);

    hook.secret = secret;
    const test = await w.adminA.caller.alerts.sendTest({ channelId: created.channel.id });
    expect(test).toMatchObject({ event: "test", state: "sent", attempts: 1, lastStatus: 204, lastError: null });
    expect(hook.received.at(-1)!.verified).toBe(true);

    // A user-chosen secret replaces it; the old one no longer verifies.
    const chosen = "ab".repeat(32);
    const updated = await w.adminA.caller.alerts.channelUpdate({ channelId: created.channel.id, secret: chosen });
    expect(updated.generatedSecret).toBeNull();
    expect(JSON.stringify(updated)).not.toContain(chosen);
    const stale = await w.adminA.caller.alerts.sendTest({ channelId: created.channel.id });
    expect(stale).toMatchObject({ state: "failed", lastStatus: 401 });
    hook.secret = chosen;
    expect((await w.adminA.caller.alerts.sendTest({ channelId: created.channel.id })).state).toBe("sent");
    const log = await w.ownerA.caller.alerts.deliveries({ mspId: w.mspA.id, channelId: created.channel.id });
    expect(log.deliveries.map((d) => [d.event, d.state])).toEqual([
      ["test", "sent"],
      ["test", "failed"],
      ["test", "sent"],
    ]);
    const audit = await world.stack.database.db.select().from(schema.auditEvents).where(eq(schema.auditEvents.targetId, created.channel.id));
    expect(audit.map((a) => a.action)).toEqual(["alert_channel.create", "alert_channel.test", "alert_channel.update", "alert_channel.test", "alert_channel.test"]);
    expect(JSON.stringify(audit)).not.toContain(chosen);
    expect(JSON.stringify(audit)).not.toContain(secret);
  });

  it("SMS channel per customer: send test reaches the Twilio stand-in; update and delete", async () => {
    const { w } = world;
    const { channel } = await w.ownerA.caller.alerts.channelCreate({ mspId: w.mspA.id, customerId: w.a2.id, kind: "sms", name: "A2 on-call", targets: ["+15550001234", "+15550001234"] });
    expect(channel).toMatchObject({ customerId: w.a2.id, customerName: "A2 Law", targets: ["+15550001234"], minSeverity: "warning", enabled: true, hasSecret: false });
    const sent = await w.ownerA.caller.alerts.sendTest({ channelId: channel.id });
    expect(sent.state).toBe("sent");
    expect(twilio.messages.map((m) => m.to)).toEqual(["+15550001234"]);
    expect(twilio.messages[0]!.body).toContain("Test message from Tidemark");
    const upd = await w.ownerA.caller.alerts.channelUpdate({ channelId: channel.id, enabled: false, minSeverity: "critical" });
    expect(upd.channel).toMatchObject({ enabled: false, minSeverity: "critical" });
    const onlyA2 = await w.ownerA.caller.alerts.channelsList({ mspId: w.mspA.id, customerId: w.a2.id });
    expect(onlyA2.map((c) => c.id)).toEqual([channel.id]);
    expect(onlyA2[0]!.lastDelivery).toMatchObject({ state: "sent", event: "test" });
    await refused(w.techA.caller.alerts.channelDelete({ channelId: channel.id }), ["FORBIDDEN"]);
    expect(await w.ownerA.caller.alerts.channelDelete({ channelId: channel.id })).toEqual({ id: channel.id });
    await refused(w.ownerA.caller.alerts.channelDelete({ channelId: channel.id }), ["NOT_FOUND"]);
  });

  it("malformed input: per-field errors, nothing written", async () => {
    const { w } = world;
    const before = await world.stack.database.db.select().from(schema.alertChannels);
    const fields = async (p: Promise<unknown>) => {
      const err = await refused(p, ["BAD_REQUEST"]);
      // Through a caller the ZodError cause carries its issues as the message JSON.
      const cause = err.cause as { issues?: { path: (string | number)[]; message: string }[]; message: string };
      const issues = cause?.issues ?? (JSON.parse(cause.message) as { path: (string | number)[]; message: string }[]);
      return Object.fromEntries(issues.map((i) => [i.path.join("."), i.message]));
    };
    expect(await fields(w.ownerA.caller.alerts.channelCreate({ mspId: w.mspA.id, kind: "email", name: "x", targets: ["not-an-email"] }))).toEqual({ targets: "Enter valid email addresses" });
    expect(await fields(w.ownerA.caller.alerts.channelCreate({ mspId: w.mspA.id, kind: "sms", name: "x", targets: ["5551234"] }))).toEqual({ targets: "Phone numbers must be in E.164 form, e.g. +15551234567" });
    expect(await fields(w.ownerA.caller.alerts.channelCreate({ mspId: w.mspA.id, kind: "webhook", name: "x", targets: ["ftp://x"] }))).toEqual({ targets: "Enter an http(s) URL without credentials in it" });
    expect(await fields(w.ownerA.caller.alerts.channelCreate({ mspId: w.mspA.id, kind: "webhook", name: "x", targets: ["https://a.test", "https://b.test"] }))).toEqual({ targets: "A webhook channel has exactly one URL" });
    expect(await fields(w.ownerA.caller.alerts.channelCreate({ mspId: w.mspA.id, kind: "webhook", name: "x", targets: ["https://user:pw@a.test"] }))).toEqual({ targets: "Enter an http(s) URL without credentials in it" });
    expect(await fields(w.ownerA.caller.alerts.channelCreate({ mspId: w.mspA.id, kind: "email", name: "", targets: [], secret: "ab".repeat(32) }))).toEqual({
      name: "Name is required",
      targets: "Add at least one address",
      secret: "Only webhook channels have a secret",
    });
    expect(await fields(w.ownerA.caller.alerts.channelCreate({ mspId: w.mspA.id, kind: "webhook", name: "x", targets: ["https://a.test"], secret: "short" }))).toEqual({
      secret: "The secret must be 64 lowercase hex characters (generate one with: openssl rand -hex 32)",
    });
    expect(await fields(w.ownerA.caller.alerts.channelCreate({ mspId: w.mspA.id, kind: "pager" as never, name: "x", targets: [] }))).toHaveProperty("kind");
    expect(await fields(w.ownerA.caller.alerts.channelCreate({ mspId: w.mspA.id, kind: "email", name: "x", targets: ["a@a.test"], minSeverity: "panic" as never }))).toHaveProperty("minSeverity");
    expect(await fields(w.ownerA.caller.alerts.channelUpdate({ channelId: seed.a1ChannelId, targets: ["+15550001111"] }))).toEqual({ targets: "Enter valid email addresses" });
    expect(await fields(w.ownerA.caller.alerts.channelUpdate({ channelId: seed.mspChannelId, secret: "ab".repeat(32), rotateSecret: true }))).toEqual({ secret: "Give a new secret or ask for a generated one, not both" });
    const notWebhook = await refused(w.ownerA.caller.alerts.channelUpdate({ channelId: seed.a1ChannelId, rotateSecret: true }), ["BAD_REQUEST"]);
    expect(notWebhook.message).toBe("Only webhook channels have a secret");
    expect(await fields(w.ownerA.caller.alerts.list({ mspId: w.mspA.id, severity: ["urgent" as never] }))).toHaveProperty("severity.0");
    expect(await fields(w.ownerA.caller.alerts.list({ mspId: w.mspA.id, limit: 0 }))).toHaveProperty("limit");
    expect(await fields(w.ownerA.caller.alerts.list({} as never))).toEqual({ mspId: "Give mspId or customerId" });
    expect(await fields(w.ownerA.caller.alerts.get({ alertId: "nope" }))).toEqual({ alertId: "Not a valid alert id" });
    expect(await fields(w.ownerA.caller.alerts.sendTest({ channelId: "1" }))).toEqual({ channelId: "Not a valid alert channel id" });
    await refused(w.ownerA.caller.alerts.get({ alertId: crypto.randomUUID() }), ["NOT_FOUND"]);
    expect(await world.stack.database.db.select().from(schema.alertChannels)).toEqual(before);
  });

  it("over HTTP the portal gets fieldErrors keyed by field, also for checks against the stored channel", async () => {
    const { w } = world;
    const post = async (path: string, input: unknown) => {
      const req = new Request(`http://localhost:3000/api/trpc/${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", cookie: w.ownerA.client.headers().get("cookie") ?? "" },
        body: JSON.stringify(superjson.serialize(input)),
      });
      const res = await fetchRequestHandler({ endpoint: "/api/trpc", req, router: appRouter, createContext: () => createTRPCContext({ headers: req.headers, services: world.stack.services }) });
      return { status: res.status, body: (await res.json()) as { error: { json: { message: string; data: { zodError: { fieldErrors: Record<string, string[]> } | null } } } } };
    };
    const create = await post("alerts.channelCreate", { mspId: w.mspA.id, kind: "sms", name: "x", targets: ["12"] });
    expect(create.status).toBe(400);
    expect(create.body.error.json.data.zodError!.fieldErrors).toEqual({ targets: ["Phone numbers must be in E.164 form, e.g. +15551234567"] });
    const update = await post("alerts.channelUpdate", { channelId: seed.a1ChannelId, targets: ["nope"] });
    expect(update.status, JSON.stringify(update.body).slice(0, 500)).toBe(400);
    expect(update.body.error.json.data.zodError!.fieldErrors).toEqual({ targets: ["Enter valid email addresses"] });
  });

  it("attacks leave A1's alert objects untouched", async () => {
    const { w } = world;
    for (const attacker of [w.ownerB, w.a2Admin]) {
      await refused(attacker.caller.alerts.channelUpdate({ channelId: seed.a1ChannelId, targets: ["spy@evil.test"] }));
      await refused(attacker.caller.alerts.channelDelete({ channelId: seed.mspChannelId }));
      await refused(attacker.caller.alerts.sendTest({ channelId: seed.a1ChannelId }));
    }
    const [ch] = await world.stack.database.db.select().from(schema.alertChannels).where(eq(schema.alertChannels.id, seed.a1ChannelId));
    expect(ch!.targets).toEqual(["it@a1.test"]);
    // MSP B's owner sees its own alerts only.
    const b = await w.ownerB.caller.alerts.list({ mspId: w.mspB.id });
    expect(b.alerts.map((a) => a.title)).toEqual(["B quota"]);
    expect(await w.ownerB.caller.alerts.channelsList({ mspId: w.mspB.id })).toEqual([]);
  });
});
