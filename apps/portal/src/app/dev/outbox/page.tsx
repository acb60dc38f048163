import { listOutbox } from "@tidemark/notify";
import { notFound } from "next/navigation";
import { Fragment } from "react";
import { getRuntime } from "~/server/runtime";

export const dynamic = "force-dynamic";
export const metadata = { title: "Outbox · Tidemark" };

/** Split plain text into text and clickable links; mail text is not trusted HTML. */
function Linkified({ text }: { text: string }) {
  const parts = text.split(/(https?:\/\/[^\s<>"')]+)/g);
  return (
    <>
      {parts.map((part, i) =>
        /^https?:\/\//.test(part) ? (
          <a key={i} href={part}>
            {part}
          </a>
        ) : (
          <Fragment key={i}>{part}</Fragment>
        ),
      )}
    </>
  );
}

export default async function OutboxPage() {
  const runtime = await getRuntime();
  // With real SMTP configured, mail goes out and this page would leak other users' links.
  if (!runtime.outboxOnly) notFound();
  const messages = await listOutbox(runtime.database, { limit: 100 });
  return (
    <>
      <header className="topbar">
        <a className="brand" href="/">
          Tidemark
        </a>
        <span className="who">Local outbox: SMTP_URL is not set, so email is captured here</span>
      </header>
      <main>
        <h1>Outbox</h1>
        {messages.length === 0 ? <p className="muted">No email yet.</p> : null}
        {messages.map((m) => (
          <article key={m.id} className="card mail" data-testid="outbox-message">
            <div className="muted">
              {new Date(m.createdAt).toLocaleString()} · to <strong data-testid="outbox-to">{m.to}</strong>
            </div>
            <h2>{m.subject}</h2>
            <pre>
              <Linkified text={m.text} />
            </pre>
          </article>
        ))}
      </main>
    </>
  );
}
