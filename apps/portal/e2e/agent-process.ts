/**
 * The REAL agent (`pnpm tidemark-agent …`) and the engine CLI as child
 * processes of a spec, each in its own process group so the pnpm → tsx →
 * node chain is stopped as one.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Page } from "@playwright/test";

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "../../..");

export type Spawned = ChildProcess & { log: () => string };

export function runPnpm(args: string[], env: Record<string, string> = {}): Spawned {
  let log = "";
  const child = spawn("pnpm", ["--silent", ...args], { cwd: repoRoot, detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NODE_ENV: "production", ...env } });
  child.stdout!.on("data", (d) => (log += d));
  child.stderr!.on("data", (d) => (log += d));
  return Object.assign(child, { log: () => log });
}

export const runAgent = (args: string[]) => runPnpm(["tidemark-agent", ...args]);

export function exitOf(child: ChildProcess): Promise<number> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.on("exit", (code) => resolve(code ?? 1)));
}

export async function stopProcess(child: ChildProcess | null | undefined) {
  if (!child?.pid || child.exitCode !== null) return;
  process.kill(-child.pid, "SIGTERM");
  await Promise.race([exitOf(child), new Promise((r) => setTimeout(r, 5000))]);
  if (child.exitCode === null) process.kill(-child.pid, "SIGKILL");
}

export async function downloadBytes(page: Page, click: () => Promise<void>): Promise<Buffer> {
  const [download] = await Promise.all([page.waitForEvent("download"), click()]);
  return readFile((await download.path())!);
}
