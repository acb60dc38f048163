export { createMailer, listOutbox, mailMessageSchema, type Mailer, type MailMessage, type OutboxMessage } from "./mailer";
export { escapeHtml } from "./html";
