/**
 * Playwright's webServer: a FRESH PostgreSQL database and data dir for this
 * run, then the built portal (`next start`) against them. Playwright starts
 * web servers before globalSetup, so the database is created here, and dropped
 * here when Playwright stops the server.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createTestDatabase } from "@tidemark/db/testing";
import { azuriteConnectionString, startAzurite } from "@tidemark/storage/testing";
import { controlFile, type ServeControl } from "./control";

const port = process.argv[2] ?? "3100";
const portalDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const database = await createTestDatabase();
// The portal runs its own pool; this one only owns the drop at the end.
const dataDir = mkdtempSync(join(tmpdir(), "tidemark-e2e-"));
// The agent API signs SAS URLs for customers' containers: the run gets its own Azurite (random port), on disk
// so the outage spec can stop it and start it again on the same port with everything still there.
const azuriteDir = join(dataDir, "azurite");
let azurite = await startAzurite({ location: azuriteDir });
let azuriteRunning = true;
const kek = randomBytes(32).toString("base64");
console.log(`e2e: database ${new URL(database.url).pathname.slice(1)}, data dir ${dataDir}`);

// Specs run in other processes: they reach this one through a loopback control endpoint named in a
// per-port file (owner-only: it carries this run's throwaway KEK, so a spec can open a customer's
// repository the way the service does and run the engine's check on it).
const control = createServer((req, res) => {
  const done = (status: number, body: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  const run = async () => {
    if (req.method === "POST" && req.url === "/azurite/stop") {
      if (azuriteRunning) await azurite.stop();
      azuriteRunning = false;
      return done(200, { running: false });
    }
    if (req.method === "POST" && req.url === "/azurite/start") {
      if (!azuriteRunning) azurite = await startAzurite({ location: azuriteDir, port: azurite.port });
      azuriteRunning = true;
      return done(200, { running: true });
    }
    done(404, { error: "unknown control route" });
  };
  run().catch((err: Error) => done(500, { error: err.message }));
});
await new Promise<void>((r) => control.listen(0, "127.0.0.1", r));
const info: ServeControl = {
  controlUrl: `http://127.0.0.1:${(control.address() as AddressInfo).port}`,
  azureConnectionString: azuriteConnectionString(azurite.blobEndpoint),
  kek,
};
writeFileSync(controlFile(port), JSON.stringify(info), { mode: 0o600 });

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
    TIDEMARK_KEK: kek,
    TIDEMARK_INPROCESS_WORKER: "1",
    // Playwright stands in for a reverse proxy on loopback: each spec names its client address in
    // X-Forwarded-For (per-address sign-in limits, audit IPs), believed only because of this.
    TRUSTED_PROXIES: "127.0.0.1,::1",
    SMTP_URL: "",
    AZURE_STORAGE_CONNECTION_STRING: info.azureConnectionString,
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
  control.close();
  rmSync(controlFile(port), { force: true });
  await database.drop().catch((err) => console.error("e2e: drop failed", err));
  if (azuriteRunning) await azurite.stop().catch((err) => console.error("e2e: azurite stop failed", err));
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(code);
}
child.on("exit", (code) => void cleanup(code ?? 1));
process.on("SIGTERM", () => void cleanup(0));
process.on("SIGINT", () => void cleanup(0));
