import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, readdir, lstat, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { BlobStore } from "@tidemark/storage";
import { randomBytes, randomUUID } from "node:crypto";
import { policySchema, type Policy } from "@tidemark/agent-protocol";
import { localStore } from "@tidemark/storage";
import { Capture, type CaptureOptions, type CaptureState } from "../src/capture";
import { Repository, restore } from "../src/engine";
import { EventBuffer } from "../src/events";
import { UploadQueue } from "../src/queue";
import type { MachineFile } from "../src/state";

const AGENT_DIR = resolve(fileURLToPath(new URL(".", import.meta.url)), "..");
const MAIN = join(AGENT_DIR, "src/main.ts");

const made: string[] = [];
export const tmp = async (p: string) => {
  const d = await mkdtemp(join(tmpdir(), `tm-agent-${p}-`));
  made.push(d);
  return d;
};
export async function removeTmp(): Promise<void> {
  for (const d of made.splice(0)) await rm(d, { recursive: true, force: true });
}

/**
 * A machine.json as enrolment writes it, for tests that open a spool without a server. The
 * default chunker and pack size are small (1 MiB packs) so a few files make several packs.
 */
export function spoolMachine(config: Partial<MachineFile["repository"]["config"]> = {}): MachineFile {
  return {
    v: 1, serverUrl: "http://x/", name: "m", machineId: randomUUID(), machineSecret: "s".repeat(43), customerId: randomUUID(),
    dataKey: randomBytes(32).toString("base64"), spoolKek: randomBytes(32).toString("base64"),
    repository: { container: "cust-x", blobEndpoint: "http://127.0.0.1:1/acct", config: { id: "r1", chunker: { min: 16384, avg: 65536, max: 262144 }, packSize: 1024 * 1024, zstdLevel: 3, blockSize: 65536, ...config } },
    policy: {} as never, enrolledAt: new Date().toISOString(),
  } as MachineFile;
}

export interface AgentProc {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

export function cli(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], { cwd: AGENT_DIR, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (b) => (out += b));
    child.stderr.on("data", (b) => (out += b));
    child.on("close", (code) => res({ code, out }));
  });
}

export const BUNDLE = join(AGENT_DIR, "dist/tidemark-agent.mjs");

/** `bundleFile`: run that bundled agent (a test's own build) instead of dist/tidemark-agent.mjs. */
export function startAgent(stateDir: string, extra: string[] = [], opts: { bundle?: boolean; bundleFile?: string; uid?: number } = {}): AgentProc {
  const entry = opts.bundleFile ? [opts.bundleFile] : opts.bundle ? [BUNDLE] : ["--import", "tsx", MAIN];
  const child = spawn(process.execPath, [...entry, "run", "--state-dir", stateDir, "--tick-ms", "100", "--debounce-ms", "500", "--heartbeat-ms", "500", ...extra], {
    cwd: AGENT_DIR,
    ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.uid } : {}),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (b) => (out += b));
  child.stderr!.on("data", (b) => (out += b));
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  return { child, output: () => out, exited };
}

export async function stopAgent(a: AgentProc): Promise<void> {
  if (a.child.exitCode !== null || a.child.signalCode !== null) return;
  a.child.kill("SIGTERM");
  const t = setTimeout(() => a.child.kill("SIGKILL"), 10_000);
  await a.exited;
  clearTimeout(t);
}

export async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, agent?: AgentProc): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${agent ? `\nagent output:\n${agent.output().slice(-4000)}` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Restores one committed point from the customer's container with the engine (as the server would). */
export async function restorePoint(store: BlobStore, kek: Buffer, snapshotId: string): Promise<string> {
  const repo = await Repository.open(store, { kek });
  const target = await tmp("restore");
  const r = await restore(repo, { id: snapshotId, snapshot: await repo.loadSnapshot(snapshotId) }, { target });
  await repo.close();
  if (r.failures.length) throw new Error(`restore failures: ${JSON.stringify(r.failures)}`);
  return target;
}

/** path (relative) → content, for every regular file below dir. */
export async function readTree(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string, rel: string) => {
    for (const name of (await readdir(d)).sort()) {
      const p = join(d, name);
      const st = await lstat(p);
      if (st.isDirectory()) await walk(p, rel ? `${rel}/${name}` : name);
      else if (st.isFile()) out.set(rel ? `${rel}/${name}` : name, (await readFile(p)).toString("base64"));
    }
  };
  await walk(dir, "");
  return out;
}

/**
 * A capture as the agent runs it on Windows (platform "win32") over a local spool, for tests that
 * stand in for PowerShell (VSS, attribute listings). `root` holds the spool and the upload queue.
 */
export async function windowsCapture(root: string, policy: Partial<Policy>, options: Partial<CaptureOptions>) {
  const repo = await Repository.init(localStore(join(root, "spool")), { kek: randomBytes(32) }, { packSize: 1024 * 1024 });
  const queue = new UploadQueue(join(root, "queue"));
  await queue.ensure();
  const events = new EventBuffer(100);
  const state: CaptureState = {};
  const capture = new Capture(repo, policySchema.parse({ rpoSeconds: 5, ...policy }), queue, events, { debounceMs: 0, host: "win-box", alwaysExclude: [], log: () => {}, platform: "win32", ...options }, state, async () => {});
  return { repo, queue, events, state, capture };
}
