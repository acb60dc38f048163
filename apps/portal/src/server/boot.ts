import { installClientAddress, parseTrustedProxies } from "@tidemark/auth";
import { dataDir, env } from "@tidemark/config";
import { seedDemo } from "./demo-seed";
import { packVerifier } from "@tidemark/backup";
import { registerPackVerification } from "@tidemark/worker";
import { alertSink, kekSecretBox, registerAlertJobs, registerVerification, restoreTestScratch } from "@tidemark/worker/verification";
import { agentServices } from "~/app/api/agent/v1/_lib/agent-api";
import { getRuntime } from "./runtime";
import { MissingSettingError } from "./secrets";

/** Called once from instrumentation: starts everything and prints how to get in. */
export async function bootPortal(): Promise<void> {
  let runtime;
  try {
    // First, before anything awaits: a request served while the database and storage start would
    // otherwise reach the rate limits and the audit log as "address unknown" (createAuth installs
    // the same resolver again later; the call is idempotent).
    installClientAddress(parseTrustedProxies(env().TRUSTED_PROXIES));
    runtime = await getRuntime();
  } catch (err) {
    // One line an operator can act on (e.g. "port in use", "connection refused"), not a stack in a crash loop.
    process.stderr.write(err instanceof MissingSettingError ? `${err.message}\n` : `Tidemark could not start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(err instanceof MissingSettingError ? 2 : 1);
  }
  let verification = "off (no in-process worker; the standalone worker verifies reported packs, scrubs and runs restore tests)";
  let alerting = "off (no in-process worker; the standalone worker delivers alerts and runs the monitors)";
  if (runtime.worker) {
    const log = (line: string) => console.log(line);
    const boss = runtime.worker.boss;
    let svc: Awaited<ReturnType<typeof agentServices>> | null = null;
    let why = "";
    try {
      svc = await agentServices();
    } catch (err) {
      // Without storage the agent API is unavailable too, so there is nothing to verify yet.
      why = err instanceof Error ? err.message : String(err);
    }
    try {
      // Alert delivery needs no storage; the KEK (from the agent services) opens webhook secrets.
      const secrets = svc
        ? kekSecretBox(svc.kek)
        : {
            wrap: () => {
              throw new Error(`webhook secrets are unavailable: ${why}`);
            },
            unwrap: () => {
              throw new Error(`webhook secrets are unavailable: ${why}`);
            },
          };
      await registerAlertJobs(boss, { db: runtime.database.db, mailer: runtime.services.mailer, publicUrl: runtime.publicUrl, secrets }, log);
      alerting = "on (delivery + monitors)";
    } catch (err) {
      alerting = `off (${err instanceof Error ? err.message : String(err)})`;
    }
    if (svc) {
      try {
        const alerts = alertSink(runtime.database.db);
        await registerPackVerification(boss, packVerifier(svc, { alerts }), log);
        await registerVerification(boss, { services: { ...svc, alerts, log }, scratchRoot: restoreTestScratch(dataDir()) }, log);
        verification = "on (pack verification, scrub, restore tests, repository check)";
      } catch (err) {
        verification = `off (${err instanceof Error ? err.message : String(err)})`;
      }
    } else {
      verification = `off (${why})`;
    }
  }
  let login: Awaited<ReturnType<typeof seedDemo>> | null = null;
  if (runtime.embedded) {
    try {
      login = await seedDemo(runtime);
    } catch (err) {
      // The portal works without the demo account; say so instead of refusing to serve.
      login = { email: "(demo account not created)", password: "-", note: err instanceof Error ? err.message : String(err) };
    }
  }

  const lines = [
    "",
    "────────────────────────────────────────────────────────────",
    "  Tidemark portal is running",
    `  URL:       ${runtime.publicUrl}`,
  ];
  if (login) {
    lines.push(`  Login:     ${login.email}`, `  Password:  ${login.password}`);
    if (login.note) lines.push(`  Note:      ${login.note}`);
  }
  lines.push(`  Database:  ${runtime.database.kind}${runtime.embedded ? ` (embedded, data in ${dataDir()})` : ""}`);
  lines.push(`  Verification: ${verification}`);
  lines.push(`  Alerts:    ${alerting}`);
  if (runtime.outboxOnly) lines.push(`  Mail:      captured at ${runtime.publicUrl}/dev/outbox`);
  if (runtime.outboxOnly && !runtime.embedded) {
    // Invitation and reset links are credentials; the outbox page shows them to anyone who can reach it.
    lines.push("  WARNING:   SMTP_URL is not set; anyone who can reach this portal can read /dev/outbox. Set SMTP_URL.");
  }
  lines.push("────────────────────────────────────────────────────────────", "");
  console.log(lines.join("\n"));

  const shutdown = () => {
    void runtime.stop().finally(() => process.exit(0));
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
  // Touching env() here keeps a later bad setting from surfacing mid-request.
  env();
}
