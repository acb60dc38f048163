/**
 * The README's one-command start: no DATABASE_URL, no secrets, no Azure. The
 * built portal must come up on PGlite + Azurite + in-process worker, print a
 * login that works, and print the same one after a restart.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, test } from "@playwright/test";

test.use({ extraHTTPHeaders: { "x-forwarded-for": "10.0.0.6" } });

const portalDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const port = 3101;
const url = `http://localhost:${port}`;

function portFree(p: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer()
      .once("error", () => resolve(false))
      .listen(p, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

type Started = { child: ChildProcess; output: () => string; login: { email: string; password: string } };

async function startEmbedded(dataDir: string): Promise<Started> {
  const child = spawn(join(portalDir, "node_modules/.bin/next"), ["start", "-p", String(port)], {
    cwd: portalDir,
    env: {
      ...process.env,
      NODE_ENV: "production",
      PORT: String(port),
      PUBLIC_URL: url,
      TIDEMARK_DATA_DIR: dataDir,
      // Blank is "unset" to @tidemark/config: nothing configured at all.
      DATABASE_URL: "",
      AUTH_SECRET: "",
      TIDEMARK_KEK: "",
      SMTP_URL: "",
      AZURE_STORAGE_CONNECTION_STRING: "",
      AZURE_STORAGE_ACCOUNT: "",
      AZURE_STORAGE_KEY: "",
      AZURE_STORAGE_SAS_URL: "",
      TIDEMARK_INPROCESS_WORKER: "",
    },
  });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const deadline = Date.now() + 60_000;
  while (!/Password:\s+\S+/.test(out)) {
    if (child.exitCode !== null) throw new Error(`portal exited (${child.exitCode}):\n${out}`);
    if (Date.now() > deadline) throw new Error(`no start-up banner within 60 s:\n${out}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const email = /Login:\s+(\S+)/.exec(out)![1]!;
  const password = /Password:\s+(\S+)/.exec(out)![1]!;
  return { child, output: () => out, login: { email, password } };
}

async function stop(child: ChildProcess) {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  if (child.exitCode === null) child.kill("SIGKILL");
}

test("embedded default starts with nothing configured and its printed login works, also after a restart", async ({ page, request }) => {
  test.setTimeout(120_000);
  test.skip(!(await portFree(10000)), "embedded Azurite needs 127.0.0.1:10000, which another process holds");
  const dataDir = mkdtempSync(join(tmpdir(), "tidemark-embedded-"));
  let running: Started | undefined;
  try {
    running = await startEmbedded(dataDir);
    const out = running.output();
    expect(out).toContain(`URL:       ${url}`);
    expect(out).toContain("Database:  pglite (embedded");
    expect(running.login.email).toBe("demo@tidemark.local");
    const firstLogin = running.login;

    // The in-process worker is really running: its heartbeat job completes.
    await expect
      .poll(async () => (await (await request.get(`${url}/api/health`)).json()).heartbeat?.pid ?? null, { timeout: 20_000 })
      .not.toBeNull();

    await stop(running.child);
    running = await startEmbedded(dataDir);
    expect(running.login).toEqual(firstLogin);

    await page.goto(`${url}/sign-in`);
    await page.getByLabel("Email").fill(firstLogin.email);
    await page.getByLabel("Password").fill(firstLogin.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page).toHaveURL(/\/msp\/[0-9a-f-]{36}$/);
    await expect(page.getByRole("heading", { level: 1, name: "Demo MSP" })).toBeVisible();
    // Seeding twice did not create a second MSP.
    await expect(page.locator("header nav")).toHaveCount(1);
  } finally {
    if (running) await stop(running.child);
    rmSync(dataDir, { recursive: true, force: true });
  }
});
