/**
 * Outgoing email. Every message lands in `outbox_messages`: in the embedded
 * default that table IS the inbox (shown at /dev/outbox); with SMTP_URL it is
 * the send log, so a failed send is visible instead of silently lost.
 */
import { type Database, schema } from "@tidemark/db";
import { desc, eq } from "drizzle-orm";
import nodemailer from "nodemailer";
import { z } from "zod";

export const mailMessageSchema = z.object({
  to: z.email(),
  subject: z.string().min(1).max(300),
  text: z.string().min(1),
  html: z.string().optional(),
});
export type MailMessage = z.input<typeof mailMessageSchema>;
export type OutboxMessage = typeof schema.outboxMessages.$inferSelect;

export type Mailer = {
  send(msg: MailMessage): Promise<void>;
  /** "capture" when there is no SMTP server: the outbox is the only destination. */
  mode: "smtp" | "capture";
};

export function createMailer(opts: { database: Database; smtpUrl?: string; from: string }): Mailer {
  const { database, from } = opts;
  const transport = opts.smtpUrl ? nodemailer.createTransport(opts.smtpUrl) : null;

  return {
    mode: transport ? "smtp" : "capture",
    async send(input) {
      const msg = mailMessageSchema.parse(input);
      const [row] = await database.db
        .insert(schema.outboxMessages)
        .values({ ...msg, from, status: transport ? "pending" : "captured" })
        .returning({ id: schema.outboxMessages.id });
      if (!transport) return;
      try {
        await transport.sendMail({ from, to: msg.to, subject: msg.subject, text: msg.text, html: msg.html });
        await database.db
          .update(schema.outboxMessages)
          .set({ status: "sent", error: null })
          .where(eq(schema.outboxMessages.id, row!.id));
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        await database.db
          .update(schema.outboxMessages)
          .set({ status: "failed", error: reason })
          .where(eq(schema.outboxMessages.id, row!.id));
        throw new Error(`Email to ${msg.to} could not be sent: ${reason}`);
      }
    },
  };
}

export async function listOutbox(database: Database, opts: { limit?: number } = {}): Promise<OutboxMessage[]> {
  const limit = z.number().int().min(1).max(500).parse(opts.limit ?? 50);
  return database.db
    .select()
    .from(schema.outboxMessages)
    .orderBy(desc(schema.outboxMessages.createdAt), desc(schema.outboxMessages.id))
    .limit(limit);
}
