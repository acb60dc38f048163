/**
 * Playwright's webServer: a FRESH PostgreSQL database and data dir for this
 * run, then the built portal (`next start`) against them. Playwright starts
 * web servers before globalSetup, so the database is created here, and dropped
 * here when Playwright stops the server.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createTestDatabase } from "@tidemark/db/testing";
import { azuriteConnectionString, startAzurite } from "@tidemark/storage/testing";

const port = process.argv[2] ?? "3100";
const portalDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const database = await createTestDatabase();
// The agent API signs SAS URLs for customers' containers: the run gets its own in-memory Azurite (random port).
const azurite = await startAzurite({ inMemory: true });
// The portal runs its own pool; this one only owns the drop at the end.
const dataDir = mkdtempSync(join(tmpdir(), "tidemark-e2e-"));
console.log(`e2e: database ${new URL(database.url).pathname.slice(1)}, data dir ${dataDir}`);

const child = spawn(join(portalDir, "node_modules/.bin/next"), ["start", "-p", port], {
  cwd: portalDir,
  stdio: "inherit",
  env: {
    ...process.env,
    NODE_ENV: "production",
    PORT: port,
    PUBLIC_URL: `http://localhost:${port}`,
    DATABASE_URL: database.url,
    TIDEMARK_DATA_DIR: dataDir,
    // Production mode (DATABASE_URL set) requires real secrets; these live for one run.
    AUTH_SECRET: randomBytes(32).toString("base64"),
    TIDEMARK_KEK: randomBytes(32).toString("base64"),
    TIDEMARK_INPROCESS_WORKER: "1",
    SMTP_URL: "",
    AZURE_STORAGE_CONNECTION_STRING: azuriteConnectionString(azurite.blobEndpoint),
  },
});

let cleaning = false;
async function cleanup(code: number) {
  if (cleaning) return;
  cleaning = true;
  if (child.exitCode === null) {
    child.kill("SIGTERM");
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 3000);
      child.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
    });
    if (child.exitCode === null) child.kill("SIGKILL");
  }
  await database.drop().catch((err) => console.error("e2e: drop failed", err));
  await azurite.stop().catch((err) => console.error("e2e: azurite stop failed", err));
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(code);
}
child.on("exit", (code) => void cleanup(code ?? 1));
process.on("SIGTERM", () => void cleanup(0));
process.on("SIGINT", () => void cleanup(0));
