/**
 * Creating and changing alert channels. The webhook secret is write-only: it is
 * sealed with the KEK on the way in, and no read path returns it (a generated
 * secret is handed back exactly once, in the response that created it).
 */
import { randomUUID } from "node:crypto";
import { type DbOrTx, schema, scopeTo, type TenantScope } from "@tidemark/db";
import { type AlertChannelKind, type AlertSeverity, alertChannelKinds, alertSeverities } from "@tidemark/db/schema";
import { and, desc, eq, isNull, sql } from "drizzle-orm";
import { z } from "zod";
import { e164 } from "./channels/sms";
import { AlertError } from "./raise";
import { newWebhookSecret, type SecretBox, sealWebhookSecret, webhookSecretPattern } from "./secrets";

export type ChannelView = {
  id: string;
  mspId: string;
  customerId: string | null;
  customerName: string | null;
  kind: AlertChannelKind;
  name: string;
  targets: string[];
  minSeverity: AlertSeverity;
  enabled: boolean;
  hasSecret: boolean;
  createdAt: Date;
  updatedAt: Date;
  lastDelivery: { state: "pending" | "sent" | "failed"; event: "opened" | "escalated" | "resolved" | "test"; at: Date; lastError: string | null } | null;
};

const email = z.email({ error: "Enter valid email addresses" });
const phone = z.string().trim().regex(e164, "Phone numbers must be in E.164 form, e.g. +15551234567");
const webhookUrl = z
  .string()
  .trim()
  .max(2000, "URL is at most 2000 characters")
  .refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === "https:" || u.protocol === "http:") && !u.username && !u.password;
    } catch {
      return false;
    }
  }, "Enter an http(s) URL without credentials in it");

/** Targets per kind: several addresses or numbers, exactly one webhook URL. */
export function targetsSchema(kind: AlertChannelKind) {
  switch (kind) {
    case "email":
      return z.array(email).min(1, "Add at least one address").max(20, "At most 20 addresses per channel");
    case "sms":
      return z.array(phone).min(1, "Add at least one phone number").max(10, "At most 10 numbers per channel");
    case "webhook":
      return z.array(webhookUrl).length(1, "A webhook channel has exactly one URL");
  }
}

export const webhookSecret = z.string().trim().regex(webhookSecretPattern, "The secret must be 64 lowercase hex characters (generate one with: openssl rand -hex 32)");
export const channelName = z.string().trim().min(1, "Name is required").max(120, "Name is at most 120 characters");

export type NewChannel = {
  customerId: string | null;
  kind: AlertChannelKind;
  name: string;
  targets: string[];
  minSeverity: AlertSeverity;
  enabled: boolean;
  secret?: string;
};

function checkTargets(kind: AlertChannelKind, targets: string[]): string[] {
  const r = targetsSchema(kind).safeParse(targets);
  if (!r.success) throw new AlertError("BAD_REQUEST", r.error.issues[0]!.message);
  // Duplicates would message the same person twice per alert.
  return [...new Set(r.data)];
}

export async function listChannels(db: DbOrTx, scope: TenantScope, opts: { onlyMspDefaults?: boolean } = {}): Promise<ChannelView[]> {
  const c = schema.alertChannels;
  const rows = await db
    .select({ channel: c, customerName: schema.customers.name })
    .from(c)
    .leftJoin(schema.customers, eq(schema.customers.id, c.customerId))
    .where(and(scopeTo(c, scope), opts.onlyMspDefaults ? isNull(c.customerId) : undefined))
    .orderBy(sql`${c.customerId} is not null`, schema.customers.name, c.kind, c.name);
  if (rows.length === 0) return [];
  const d = schema.alertDeliveries;
  // Latest delivery per channel, in one query.
  const last = await db
    .selectDistinctOn([d.channelId], { channelId: d.channelId, state: d.state, event: d.event, at: d.updatedAt, lastError: d.lastError })
    .from(d)
    .where(eq(d.mspId, scope.mspId))
    .orderBy(d.channelId, desc(d.createdAt));
  const lastBy = new Map(last.map((l) => [l.channelId, l]));
  return rows.map(({ channel, customerName }) => toView(channel, customerName, lastBy.get(channel.id) ?? null));
}

function toView(channel: typeof schema.alertChannels.$inferSelect, customerName: string | null, last: { state: "pending" | "sent" | "failed"; event: "opened" | "escalated" | "resolved" | "test"; at: Date; lastError: string | null } | null): ChannelView {
  const { secretEncrypted, ...rest } = channel;
  return { ...rest, customerName, hasSecret: secretEncrypted !== null, lastDelivery: last ? { state: last.state, event: last.event, at: last.at, lastError: last.lastError } : null };
}

async function customerName(db: DbOrTx, mspId: string, customerId: string | null): Promise<string | null> {
  if (!customerId) return null;
  const [row] = await db.select({ name: schema.customers.name }).from(schema.customers).where(and(eq(schema.customers.id, customerId), eq(schema.customers.mspId, mspId)));
  if (!row) throw new AlertError("NOT_FOUND", "Customer not found");
  return row.name;
}

/** Returns the channel and, for a webhook created without a secret, the generated one (shown once). */
export async function createChannel(db: DbOrTx, secrets: SecretBox | null, mspId: string, input: NewChannel): Promise<{ channel: ChannelView; generatedSecret: string | null }> {
  if (!alertChannelKinds.includes(input.kind)) throw new AlertError("BAD_REQUEST", "Unknown channel kind");
  if (!alertSeverities.includes(input.minSeverity)) throw new AlertError("BAD_REQUEST", "Unknown severity");
  if (input.secret !== undefined && input.kind !== "webhook") throw new AlertError("BAD_REQUEST", "Only webhook channels have a secret");
  const targets = checkTargets(input.kind, input.targets);
  const name = await customerName(db, mspId, input.customerId);
  const id = randomUUID();
  let generatedSecret: string | null = null;
  let secretEncrypted: string | null = null;
  if (input.kind === "webhook") {
    if (!secrets) throw new AlertError("BAD_REQUEST", "Webhook secrets cannot be stored: the service key (TIDEMARK_KEK) is not available");
    const secret = input.secret ?? (generatedSecret = newWebhookSecret());
    secretEncrypted = sealWebhookSecret(secrets, id, secret);
  }
  const [row] = await db
    .insert(schema.alertChannels)
    .values({ id, mspId, customerId: input.customerId, kind: input.kind, name: input.name, targets, minSeverity: input.minSeverity, enabled: input.enabled, secretEncrypted })
    .returning();
  return { channel: toView(row!, name, null), generatedSecret };
}

export type ChannelChanges = { name?: string; targets?: string[]; minSeverity?: AlertSeverity; enabled?: boolean; secret?: string; rotateSecret?: boolean };

export async function updateChannel(db: DbOrTx, secrets: SecretBox | null, scope: TenantScope, channelId: string, changes: ChannelChanges): Promise<{ channel: ChannelView; generatedSecret: string | null; before: ChannelView }> {
  const c = schema.alertChannels;
  const [current] = await db.select().from(c).where(and(eq(c.id, channelId), scopeTo(c, scope))).for("update");
  if (!current) throw new AlertError("NOT_FOUND", "Alert channel not found");
  if ((changes.secret !== undefined || changes.rotateSecret) && current.kind !== "webhook") throw new AlertError("BAD_REQUEST", "Only webhook channels have a secret");
  if (changes.secret !== undefined && changes.rotateSecret) throw new AlertError("BAD_REQUEST", "Give a new secret or ask for a generated one, not both");
  let generatedSecret: string | null = null;
  let secretEncrypted: string | undefined;
  if (changes.secret !== undefined || changes.rotateSecret) {
    if (!secrets) throw new AlertError("BAD_REQUEST", "Webhook secrets cannot be stored: the service key (TIDEMARK_KEK) is not available");
    const secret = changes.secret ?? (generatedSecret = newWebhookSecret());
    secretEncrypted = sealWebhookSecret(secrets, current.id, secret);
  }
  const [row] = await db
    .update(c)
    .set({
      name: changes.name,
      targets: changes.targets ? checkTargets(current.kind, changes.targets) : undefined,
      minSeverity: changes.minSeverity,
      enabled: changes.enabled,
      secretEncrypted,
      updatedAt: sql`now()`,
    })
    .where(eq(c.id, current.id))
    .returning();
  const name = await customerName(db, current.mspId, current.customerId);
  return { channel: toView(row!, name, null), generatedSecret, before: toView(current, name, null) };
}

/** Deleting a channel removes its delivery log with it (cascade); the alerts stay. */
export async function deleteChannel(db: DbOrTx, scope: TenantScope, channelId: string): Promise<ChannelView> {
  const c = schema.alertChannels;
  const [row] = await db.delete(c).where(and(eq(c.id, channelId), scopeTo(c, scope))).returning();
  if (!row) throw new AlertError("NOT_FOUND", "Alert channel not found");
  return toView(row, null, null);
}
