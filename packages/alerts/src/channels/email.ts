import type { Mailer } from "@tidemark/notify";
import type { Outcome } from "./outcome";

/** SMTP refusals and outages alike are retried: a mailbox that is "full" now may not be in an hour. */
export async function sendEmail(mailer: Mailer, to: string, msg: { subject: string; text: string; html: string }): Promise<Outcome> {
  try {
    await mailer.send({ to, ...msg });
    return { ok: true };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err), retryable: true };
  }
}
