/**
 * Alert jobs: delivery of queued messages (email/SMS/webhook) with retries,
 * and the once-a-minute monitors (agent offline, RPO missed, capture errors,
 * storage quota).
 *
 * Host wiring (worker main.ts / portal boot.ts):
 *
 *   import { kekSecretBox } from "@tidemark/alerts/kek";
 *   const jobs = await registerAlertJobs(boss, {
 *     db: database.db,
 *     mailer: createMailer({ database, smtpUrl: env().SMTP_URL, from: env().MAIL_FROM }),
 *     publicUrl,                       // links in messages
 *     secrets: kekSecretBox(kek),      // opens webhook secrets
 *   }, log);
 *   // on shutdown, before boss.stop(): jobs.stop()
 *
 * Signature: registerAlertJobs(boss: PgBoss, deps: AlertJobDeps, log: (line: string) => void): Promise<{ stop(): void }>
 */
import {
  type DeliveryDeps,
  deliverDue,
  type MonitorOptions,
  type RetryPolicy,
  runMonitors,
  type SecretBox,
  type SmsConfig,
  setDeliveryKick,
  smsConfigFromEnv,
} from "@tidemark/alerts";
import type PgBoss from "pg-boss";

export const ALERT_DELIVERY_QUEUE = "alert-delivery";
export const ALERT_MONITOR_QUEUE = "alert-monitor";
/** The delivery sweep also runs every minute: deliveries queued by a process without this worker (the API, a crashed kick) wait at most this long. */
export const ALERT_SWEEP_CRON = "* * * * *";
export const ALERT_MONITOR_CRON = "* * * * *";

export type AlertJobDeps = {
  db: DeliveryDeps["db"];
  mailer: DeliveryDeps["mailer"];
  publicUrl: string;
  secrets: SecretBox;
  /** Default: from TWILIO_* settings (null when unset: SMS deliveries fail naming them). */
  sms?: SmsConfig | null;
  retry?: RetryPolicy;
  fetch?: typeof fetch;
  monitors?: MonitorOptions & { enabled?: boolean };
  /** pg-boss polling, as the other queues (embedded PGlite has one connection); tests shorten it. Default 2 s. */
  pollingIntervalSeconds?: number;
};

export async function registerAlertJobs(boss: PgBoss, deps: AlertJobDeps, log: (line: string) => void): Promise<{ stop(): void }> {
  const delivery: DeliveryDeps = {
    db: deps.db,
    mailer: deps.mailer,
    publicUrl: deps.publicUrl,
    secrets: deps.secrets,
    sms: deps.sms === undefined ? smsConfigFromEnv() : deps.sms,
    retry: deps.retry,
    fetch: deps.fetch,
  };
  const polling = deps.pollingIntervalSeconds ?? 2;
  const kick = (delaySeconds = 0) =>
    boss.send(ALERT_DELIVERY_QUEUE, {}, delaySeconds > 0 ? { startAfter: delaySeconds } : {}).catch((err: unknown) => log(`worker: alert delivery kick failed: ${err instanceof Error ? err.message : String(err)}`));

  await boss.createQueue(ALERT_DELIVERY_QUEUE);
  await boss.createQueue(ALERT_MONITOR_QUEUE);

  await boss.work(ALERT_DELIVERY_QUEUE, { pollingIntervalSeconds: polling }, async () => {
    const total = { attempted: 0, sent: 0, failed: 0, retrying: 0 };
    let next: Date | null = null;
    // Until a pass claims nothing: a burst of alerts drains in one job.
    for (;;) {
      const run = await deliverDue(delivery);
      total.attempted += run.attempted;
      total.sent += run.sent;
      total.failed += run.failed;
      total.retrying += run.retrying;
      if (run.nextAttemptAt && (!next || run.nextAttemptAt < next)) next = run.nextAttemptAt;
      if (run.attempted === 0) break;
    }
    // Wake up for the earliest retry instead of waiting for the minute sweep.
    if (next) await kick(Math.max(1, Math.ceil((next.getTime() - Date.now()) / 1000)));
    if (total.failed > 0) log(`worker: ${total.failed} alert deliver${total.failed === 1 ? "y" : "ies"} failed for good (see the delivery log)`);
    return total;
  });
  await boss.schedule(ALERT_DELIVERY_QUEUE, ALERT_SWEEP_CRON);

  if (deps.monitors?.enabled !== false) {
    await boss.work(ALERT_MONITOR_QUEUE, { pollingIntervalSeconds: Math.max(polling, 2) }, async () => {
      const run = await runMonitors(deps.db, deps.monitors);
      if (run.opened > 0 || run.resolved > 0) log(`worker: monitors opened ${run.opened}, resolved ${run.resolved} alert(s)`);
      return run;
    });
    await boss.schedule(ALERT_MONITOR_QUEUE, ALERT_MONITOR_CRON);
  }

  // raiseAlert/resolveCondition in this process start delivery right away.
  setDeliveryKick(({ delaySeconds }) => void kick(delaySeconds));
  // Anything queued while no worker ran goes out now, not at the next minute.
  await kick();
  log(`worker: alert delivery${deps.monitors?.enabled === false ? "" : " and monitors"} registered (SMS ${delivery.sms ? "via Twilio" : "not configured"})`);
  return {
    stop() {
      setDeliveryKick(null);
    },
  };
}
