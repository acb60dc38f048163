import { dataDir, env } from "@tidemark/config";
import { seedDemo } from "./demo-seed";
import { packVerifier } from "@tidemark/backup";
import { registerPackVerification } from "@tidemark/worker";
import { alertSink, registerVerification, restoreTestScratch } from "@tidemark/worker/verification";
import { agentServices } from "~/app/api/agent/v1/_lib/agent-api";
import { getRuntime } from "./runtime";
import { MissingSettingError } from "./secrets";

/** Called once from instrumentation: starts everything and prints how to get in. */
export async function bootPortal(): Promise<void> {
  let runtime;
  try {
    runtime = await getRuntime();
  } catch (err) {
    // One line an operator can act on (e.g. "port in use", "connection refused"), not a stack in a crash loop.
    process.stderr.write(err instanceof MissingSettingError ? `${err.message}\n` : `Tidemark could not start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(err instanceof MissingSettingError ? 2 : 1);
  }
  let verification = "off (no in-process worker; the standalone worker verifies reported packs, scrubs and runs restore tests)";
  if (runtime.worker) {
    try {
      const log = (line: string) => console.log(line);
      const svc = await agentServices();
      const alerts = alertSink(runtime.database.db);
      await registerPackVerification(runtime.worker.boss, packVerifier(svc, { alerts }), log);
      await registerVerification(runtime.worker.boss, { services: { ...svc, alerts, log }, scratchRoot: restoreTestScratch(dataDir()) }, log);
      verification = "on (pack verification, scrub, restore tests, repository check)";
    } catch (err) {
      // Without storage the agent API is unavailable too, so there is nothing to verify yet.
      verification = `off (${err instanceof Error ? err.message : String(err)})`;
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
  lines.push(`  Pack verification: ${verification}`);
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
