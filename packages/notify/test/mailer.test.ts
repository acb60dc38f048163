import type { AddressInfo } from "node:net";
import { createTestDatabase, type TestDatabase } from "@tidemark/db/testing";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMailer, listOutbox } from "../src";

type Received = { from: string; to: string[]; raw: string };

describe("mailer", () => {
  let database: TestDatabase;
  let server: SMTPServer;
  let port: number;
  const received: Received[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    server = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      onRcptTo(address, _session, cb) {
        // Lets the test exercise a real SMTP-level refusal.
        if (address.address.endsWith("@refused.example")) return cb(new Error("mailbox unavailable"));
        cb();
      },
      onData(stream, session, cb) {
        let raw = "";
        stream.on("data", (c: Buffer) => (raw += c.toString("utf8")));
        stream.on("end", () => {
          received.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
            to: session.envelope.rcptTo.map((r) => r.address),
            raw,
          });
          cb();
        });
      },
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await database.drop();
  });

  it("sends through SMTP and records the message as sent", async () => {
    const mailer = createMailer({ database, smtpUrl: `smtp://127.0.0.1:${port}`, from: "Tidemark <no-reply@tidemark.test>" });
    expect(mailer.mode).toBe("smtp");
    await mailer.send({ to: "alice@example.com", subject: "Welcome aboard", text: "Click https://x/invite/abc" });
    expect(received).toHaveLength(1);
    expect(received[0]!.to).toEqual(["alice@example.com"]);
    expect(received[0]!.from).toBe("no-reply@tidemark.test");
    expect(received[0]!.raw).toContain("Subject: Welcome aboard");
    expect(received[0]!.raw).toContain("https://x/invite/abc");
    const [row] = await listOutbox(database, { limit: 1 });
    expect(row).toMatchObject({ to: "alice@example.com", status: "sent", error: null });
  });

  it("records a refused message as failed and tells the caller why", async () => {
    const mailer = createMailer({ database, smtpUrl: `smtp://127.0.0.1:${port}`, from: "no-reply@tidemark.test" });
    await expect(mailer.send({ to: "bob@refused.example", subject: "Hi", text: "x" })).rejects.toThrow(
      /bob@refused.example could not be sent: .*mailbox unavailable/,
    );
    const rows = await listOutbox(database, { limit: 10 });
    expect(rows.find((r) => r.to === "bob@refused.example")).toMatchObject({ status: "failed" });
  });

  it("captures to the outbox without SMTP, newest first", async () => {
    const mailer = createMailer({ database, from: "no-reply@tidemark.test" });
    expect(mailer.mode).toBe("capture");
    const before = received.length;
    await mailer.send({ to: "carol@example.com", subject: "First", text: "1" });
    await mailer.send({ to: "carol@example.com", subject: "Second", text: "2", html: "<b>2</b>" });
    expect(received.length).toBe(before);
    const rows = await listOutbox(database, { limit: 2 });
    expect(rows.map((r) => [r.subject, r.status])).toEqual([
      ["Second", "captured"],
      ["First", "captured"],
    ]);
    expect(rows[0]!.html).toBe("<b>2</b>");
  });

  it("refuses a malformed message before writing anything", async () => {
    const mailer = createMailer({ database, from: "no-reply@tidemark.test" });
    const count = (await listOutbox(database, { limit: 500 })).length;
    await expect(mailer.send({ to: "not-an-email", subject: "x", text: "y" })).rejects.toThrow(/email/i);
    expect((await listOutbox(database, { limit: 500 })).length).toBe(count);
  });
});
