import type { Mailer } from "@tidemark/notify";
import type { Outcome } from "./outcome";

/**
 * An SMTP 5xx reply (unknown mailbox, policy rejection) will not change on a
 * retry, and retrying would resend to the channel's other addresses that did
 * get it; connection failures and 4xx replies are worth another try.
 */
const permanent = /\b5\d\d\b/;

export async function sendEmail(mailer: Mailer, to: string, msg: { subject: string; text: string; html: string }): Promise<Outcome> {
  try {
    await mailer.send({ to, ...msg });
    return { ok: true };
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    return { ok: false, error, retryable: !permanent.test(error.replace(/^Email to \S+ could not be sent: /, "")) };
  }
}
