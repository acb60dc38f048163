import { env } from "@tidemark/config";
import { seedDemo } from "./demo-seed";
import { getRuntime } from "./runtime";
import { MissingSettingError } from "./secrets";

/** Called once from instrumentation: starts everything and prints how to get in. */
export async function bootPortal(): Promise<void> {
  let runtime;
  try {
    runtime = await getRuntime();
  } catch (err) {
    if (err instanceof MissingSettingError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const login = runtime.embedded ? await seedDemo(runtime) : null;

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
  lines.push(`  Database:  ${runtime.database.kind}${runtime.embedded ? " (embedded)" : ""}`);
  if (runtime.outboxOnly) lines.push(`  Mail:      captured at ${runtime.publicUrl}/dev/outbox`);
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
