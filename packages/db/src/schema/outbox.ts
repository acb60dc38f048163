import { index, pgTable, text } from "drizzle-orm/pg-core";
import { createdAt, id } from "./columns";

/** Every outgoing email: the embedded default's inbox, and a send log in production. */
export const outboxMessages = pgTable(
  "outbox_messages",
  {
    id: id(),
    to: text("to").notNull(),
    from: text("from").notNull(),
    subject: text("subject").notNull(),
    text: text("text").notNull(),
    html: text("html"),
    status: text("status").$type<"captured" | "pending" | "sent" | "failed">().notNull(),
    error: text("error"),
    createdAt: createdAt(),
  },
  (t) => [index("outbox_messages_created_at_idx").on(t.createdAt)],
);
