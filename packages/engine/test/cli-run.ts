import { spawn } from "node:child_process";
import { resolve } from "node:path";

// What `pnpm tidemark` runs: node on the bundled CLI (rebuilt from these sources when stale), in one process SIGKILL reaches.
export const NODE_ARGS = [resolve(__dirname, "../src/cli/bin.mjs")];

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, [...NODE_ARGS, ...args], { env: { ...process.env, TIDEMARK_PASSWORD: "pw-e2e", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("error", rej);
    p.on("close", (code) => res({ code: code ?? -1, stdout, stderr }));
  });
}

