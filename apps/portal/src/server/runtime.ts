/**
 * The portal's process-wide services. Next loads instrumentation and route
 * handlers as separate module graphs, so the single instance lives on
 * globalThis rather than in a module variable.
 */
import { createAuth } from "@tidemark/auth";
import { env } from "@tidemark/config";
import { type Database, openDatabase } from "@tidemark/db";
import { createMailer } from "@tidemark/notify";
import { type RunningWorker, startWorker } from "@tidemark/worker";
import { maybeStartAzurite } from "./azurite";
import { requiredSecret } from "./secrets";

type Auth = ReturnType<typeof createAuth>;
type Mailer = ReturnType<typeof createMailer>;

export type Runtime = {
  database: Database;
  auth: Auth;
  mailer: Mailer;
  publicUrl: string;
  /** True when mail is captured locally (no SMTP_URL): /dev/outbox is served. */
  outboxOnly: boolean;
  embedded: boolean;
  worker: RunningWorker | null;
  services: { database: Database; auth: Auth; mailer: Mailer; publicUrl: string };
  stop(): Promise<void>;
};

const KEY = Symbol.for("tidemark.portal.runtime");
type Holder = { [KEY]?: Promise<Runtime> };

export function getRuntime(): Promise<Runtime> {
  const holder = globalThis as Holder;
  holder[KEY] ??= boot();
  return holder[KEY];
}

const log = (line: string) => console.log(line);

async function boot(): Promise<Runtime> {
  const config = env();
  const embedded = !config.DATABASE_URL;
  const secret = requiredSecret("AUTH_SECRET");
  // Validated now so a missing production KEK fails at start, not at the first enrolment.
  requiredSecret("TIDEMARK_KEK");
  const publicUrl = (config.PUBLIC_URL ?? `http://localhost:${config.PORT}`).replace(/\/+$/, "");

  // Production brings its own Azure Storage account; only the embedded default runs the emulator.
  const azurite = embedded ? await maybeStartAzurite(log) : null;
  const database = await openDatabase().catch((err: unknown) => {
    const where = embedded ? "embedded database (PGlite)" : "database (DATABASE_URL)";
    throw new Error(`${where}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  });
  const mailer = createMailer({ database, smtpUrl: config.SMTP_URL, from: config.MAIL_FROM });
  const auth = createAuth({ database, mailer, baseURL: publicUrl, secret });
  const services = { database, auth, mailer, publicUrl };

  const inProcess = config.TIDEMARK_INPROCESS_WORKER ? config.TIDEMARK_INPROCESS_WORKER === "1" : embedded;
  const worker = inProcess ? await startWorker({ database, log }) : null;

  let stopping: Promise<void> | undefined;
  const runtime: Runtime = {
    database,
    auth,
    mailer,
    publicUrl,
    outboxOnly: !config.SMTP_URL,
    embedded,
    worker,
    services,
    stop: () =>
      (stopping ??= (async () => {
        await worker?.stop();
        await database.close();
        await azurite?.stop();
      })()),
  };
  return runtime;
}
