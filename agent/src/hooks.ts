/**
 * Pre-freeze / post-thaw hook commands (fsfreeze, LVM snapshot,
 * pg_backup_start…). A hook that fails or outlives its timeout is killed with
 * its whole process group; the point is then only crash-consistent.
 */
import { spawn } from "node:child_process";

export interface HookResult {
  ok: boolean;
  timedOut: boolean;
  code: number | null;
  output: string;
  ms: number;
}

export function runHook(command: string, timeoutMs: number, platform: NodeJS.Platform = process.platform): Promise<HookResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(command, { shell: true, detached: platform !== "win32", stdio: ["ignore", "pipe", "pipe"], windowsHide: true });
    let output = "";
    const take = (b: Buffer) => {
      if (output.length < 8000) output += b.toString("utf8");
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killTree(child.pid, platform);
    }, timeoutMs);
    const finish = (code: number | null, err?: Error) => {
      clearTimeout(timer);
      resolve({ ok: !timedOut && !err && code === 0, timedOut, code, output: (err ? `${err.message}\n` : "") + output.trim(), ms: Date.now() - started });
    };
    child.on("error", (e) => finish(null, e));
    child.on("close", (code) => finish(code));
  });
}

function killTree(pid: number | undefined, platform: NodeJS.Platform) {
  if (!pid) return;
  try {
    if (platform === "win32") spawn("taskkill", ["/PID", String(pid), "/T", "/F"], { windowsHide: true });
    else process.kill(-pid, "SIGKILL");
  } catch {
    // already gone
  }
}
