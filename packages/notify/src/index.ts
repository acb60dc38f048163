export { createMailer, listOutbox, mailMessageSchema, type Mailer, type MailMessage, type OutboxMessage } from "./mailer";
