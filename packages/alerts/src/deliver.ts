/**
 * The delivery log in action: claims due deliveries, sends them on their
 * channel, records every attempt (state, attempts, last status/error), and
 * schedules retries with exponential backoff and jitter.
 */
import { type Db, type DbOrTx, schema, scopeTo, type TenantScope } from "@tidemark/db";
import type { Mailer } from "@tidemark/notify";
import { and, asc, count, eq, gte, inArray, lte, sql } from "drizzle-orm";
import { sendEmail } from "./channels/email";
import { combine, type Outcome } from "./channels/outcome";
import { SMS_NOT_CONFIGURED, type SmsConfig, sendSms } from "./channels/sms";
import { postWebhook } from "./channels/webhook";
import { type AlertMessage, loadAlertMessage, renderEmail, renderSms, testMessage, webhookPayload } from "./message";
import { AlertError } from "./raise";
import type { Channel } from "./routing";
import { openWebhookSecret, type SecretBox } from "./secrets";

export type Delivery = typeof schema.alertDeliveries.$inferSelect;

export type RetryPolicy = { baseMs: number; maxMs: number; maxAttempts: number };
/** ~30 s, 1, 2, 4 … min, capped at 1 h; 8 attempts span about 2 hours before a delivery is given up. */
export const defaultRetry: RetryPolicy = { baseMs: 30_000, maxMs: 3_600_000, maxAttempts: 8 };

export type DeliveryDeps = {
  db: Db;
  mailer: Mailer;
  /** Where links in messages point (the portal). */
  publicUrl: string;
  secrets: SecretBox;
  /** null: SMS channels fail with a message naming the settings. */
  sms: SmsConfig | null;
  fetch?: typeof fetch;
  retry?: RetryPolicy;
  timeoutMs?: number;
};

/** Full jitter over the upper half: retries of many deliveries failing together do not arrive together. */
export function backoffMs(attempt: number, policy: RetryPolicy, random = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export const TESTS_PER_MINUTE = 5;

/** How long a claimed delivery is hidden from other workers; a worker dying mid-send is retried after it. */
const LEASE = sql`now() + interval '5 minutes'`;

async function send(deps: DeliveryDeps, channel: Channel, message: AlertMessage, deliveryId: string): Promise<Outcome> {
  const opts = { fetch: deps.fetch, timeoutMs: deps.timeoutMs };
  switch (channel.kind) {
    case "email": {
      const mail = renderEmail(message);
      const outcomes: Outcome[] = [];
      for (const to of channel.targets) outcomes.push(await sendEmail(deps.mailer, to, mail));
      return combine(outcomes);
    }
    case "sms": {
      if (!deps.sms) return { ok: false, error: SMS_NOT_CONFIGURED, retryable: false };
      const body = renderSms(message);
      const outcomes: Outcome[] = [];
      for (const to of channel.targets) outcomes.push(await sendSms(deps.sms, to, body, opts));
      return combine(outcomes);
    }
    case "webhook": {
      if (!channel.secretEncrypted) return { ok: false, error: "This webhook has no signing secret (recreate it or set one)", retryable: false };
      let secret: string;
      try {
        secret = openWebhookSecret(deps.secrets, channel.id, channel.secretEncrypted);
      } catch (err) {
        return { ok: false, error: err instanceof Error ? err.message : String(err), retryable: false };
      }
      const url = channel.targets[0];
      if (!url) return { ok: false, error: "This webhook has no URL", retryable: false };
      return postWebhook(url, secret, webhookPayload(message, deliveryId), opts);
    }
  }
}

async function record(db: DbOrTx, delivery: Delivery, outcome: Outcome, retry: RetryPolicy): Promise<Delivery> {
  const attempts = delivery.attempts + 1;
  const t = schema.alertDeliveries;
  const base = { attempts, lastStatus: outcome.status ?? null, updatedAt: sql`now()` };
  const set = outcome.ok
    ? { ...base, state: "sent" as const, lastError: null, sentAt: sql`now()`, nextAttemptAt: null }
    : outcome.retryable && attempts < retry.maxAttempts && delivery.event !== "test"
      ? { ...base, state: "pending" as const, lastError: outcome.error, nextAttemptAt: new Date(Date.now() + backoffMs(attempts, retry)) }
      : { ...base, state: "failed" as const, lastError: outcome.error, nextAttemptAt: null };
  const [row] = await db.update(t).set(set).where(eq(t.id, delivery.id)).returning();
  return row!;
}

/** Sends one claimed delivery and records the attempt. */
async function attempt(deps: DeliveryDeps, delivery: Delivery): Promise<Delivery> {
  const retry = deps.retry ?? defaultRetry;
  const [channel] = await deps.db.select().from(schema.alertChannels).where(and(eq(schema.alertChannels.id, delivery.channelId), eq(schema.alertChannels.mspId, delivery.mspId)));
  if (!channel) return record(deps.db, delivery, { ok: false, error: "The channel no longer exists", retryable: false }, retry);
  if (!channel.enabled) return record(deps.db, delivery, { ok: false, error: "The channel was disabled before this message went out", retryable: false }, retry);
  const message = delivery.alertId ? await loadAlertMessage(deps.db, delivery.alertId, delivery.event, deps.publicUrl) : null;
  if (!message || message.alert.mspId !== channel.mspId) return record(deps.db, delivery, { ok: false, error: "The alert no longer exists", retryable: false }, retry);
  return record(deps.db, delivery, await send(deps, channel, message, delivery.id), retry);
}

export type DeliveryRun = { attempted: number; sent: number; failed: number; retrying: number; nextAttemptAt: Date | null };

/**
 * Claims up to `limit` due deliveries (skipping rows another worker holds),
 * sends them one after another and records each attempt. Returns when the
 * earliest retry is due so the caller can schedule a wake-up.
 */
export async function deliverDue(deps: DeliveryDeps, opts: { limit?: number } = {}): Promise<DeliveryRun> {
  const t = schema.alertDeliveries;
  const due = deps.db
    .select({ id: t.id })
    .from(t)
    .where(and(eq(t.state, "pending"), lte(t.nextAttemptAt, sql`now()`)))
    .orderBy(asc(t.nextAttemptAt))
    .limit(opts.limit ?? 50)
    .for("update", { skipLocked: true });
  const claimed = await deps.db.update(t).set({ nextAttemptAt: LEASE }).where(inArray(t.id, due)).returning();
  const run: DeliveryRun = { attempted: 0, sent: 0, failed: 0, retrying: 0, nextAttemptAt: null };
  // Claimed rows already carry the lease time; attempt() records from the row as it was.
  for (const delivery of claimed.sort((a, b) => +a.createdAt - +b.createdAt)) {
    const done = await attempt(deps, delivery);
    run.attempted++;
    if (done.state === "sent") run.sent++;
    else if (done.state === "failed") run.failed++;
    else {
      run.retrying++;
      if (done.nextAttemptAt && (!run.nextAttemptAt || done.nextAttemptAt < run.nextAttemptAt)) run.nextAttemptAt = done.nextAttemptAt;
    }
  }
  return run;
}

/**
 * "Send test": a sample message on one channel right now, recorded in the
 * delivery log with event "test" (no retries: the person is waiting for the answer).
 */
export async function sendTestMessage(deps: DeliveryDeps, scope: TenantScope, channelId: string): Promise<Delivery> {
  const c = schema.alertChannels;
  const [row] = await deps.db
    .select({ channel: c, customerName: schema.customers.name })
    .from(c)
    .leftJoin(schema.customers, eq(schema.customers.id, c.customerId))
    .where(and(eq(c.id, channelId), scopeTo(c, scope)));
  if (!row) throw new AlertError("NOT_FOUND", "Alert channel not found");
  const { channel } = row;
  // Each test may be a paid SMS: a stuck button (or a script) must not send hundreds.
  const d = schema.alertDeliveries;
  const [recent] = await deps.db
    .select({ n: count() })
    .from(d)
    .where(and(eq(d.channelId, channel.id), eq(d.event, "test"), gte(d.createdAt, sql`now() - interval '1 minute'`)));
  if (Number(recent?.n ?? 0) >= TESTS_PER_MINUTE) throw new AlertError("TOO_MANY_REQUESTS", `At most ${TESTS_PER_MINUTE} test messages per channel per minute; try again shortly`);
  const [delivery] = await deps.db.insert(schema.alertDeliveries).values({ mspId: channel.mspId, alertId: null, channelId: channel.id, event: "test", nextAttemptAt: null }).returning();
  const message = testMessage(deps.publicUrl, { mspId: channel.mspId, customer: channel.customerId && row.customerName ? { id: channel.customerId, name: row.customerName } : null });
  // A disabled channel can still be tested: that is how one checks it before switching it on.
  return record(deps.db, delivery!, await send(deps, channel, message, delivery!.id), deps.retry ?? defaultRetry);
}

/** Pending deliveries whose time has come, without claiming: for the worker's wake-up decision and tests. */
export async function nextDueAt(db: DbOrTx): Promise<Date | null> {
  const t = schema.alertDeliveries;
  const [row] = await db.select({ at: sql<Date | null>`min(${t.nextAttemptAt})` }).from(t).where(eq(t.state, "pending"));
  return row?.at ? new Date(row.at) : null;
}

