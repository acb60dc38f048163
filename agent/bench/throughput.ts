/**
 * Initial protection throughput: the agent's first point of a corpus through the REAL server
 * (serveAgentApi over PostgreSQL) into Azurite, against the engine CLI (`pnpm tidemark backup`)
 * into the same Azurite, same corpus, same page-cache state. Prints MB/s of each and the ratio
 * (issue 4 target: agent ≥ 80 % of the CLI).
 *
 *   cd agent && pnpm bundle && npx tsx bench/throughput.ts [--corpus DIR]... [--full] [--runs N] [--source]
 *
 * --corpus DIR   what to protect (repeatable; default /usr/share)
 * --full         the engine benchmark corpus: /usr/share + /usr/lib/x86_64-linux-gnu (~1.4 GB)
 * --runs N       interleaved agent/CLI pairs (order alternates each run; default 1)
 * --source       run the agent from its TypeScript sources (tsx) instead of the bundle
 * --agent-log F  append the agent's log (per-pack upload timings, points) to F
 * --agent-prof D write the agent's CPU profile(s) (node --cpu-prof) into directory D
 * --agent-only   skip the CLI runs (profiling the server side: `node --cpu-prof --import tsx bench/throughput.ts --agent-only`)
 * --agent-node-arg A  pass A to the agent's node (repeatable), e.g. --agent-node-arg=--max-semi-space-size=1 as the service runs it
 * --bundle F     run this bundled agent (repeatable: A/B of builds, each run takes every bundle in turn, order rotating)
 *
 * CPU: each line prints CPU seconds of the agent process (and its busiest threads), of this bench
 * process (the server + Azurite), of PostgreSQL and of the CLI's process tree, from /proc.
 *
 * Timing: agent = process start → first point committed on the server (spool, upload,
 * chunks/missing, pack reports, commit); CLI = process start → exit (init not counted).
 * Both include their process start-up. MB = 10^6 bytes of the point's logical size.
 */
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { appendFileSync, openSync, readSync, closeSync, readdirSync, lstatSync, existsSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { azuriteConnectionString } from "@tidemark/storage/testing";
import { BUNDLE, cli, removeTmp, stopAgent, tmp } from "../test/helpers";
import { committed, newCustomer, setPolicy } from "../test/real-server";
import { createWorld, issueToken } from "@tidemark/backup/testing";
import { serveAgentApi } from "@tidemark/backup/http/node";

// Killed (timeout, ^C): exit normally so the "exit" handlers below stop the agent.
for (const sig of ["SIGTERM", "SIGINT"] as const) process.once(sig, () => process.exit(130));

const { values } = parseArgs({
  options: {
    corpus: { type: "string", multiple: true },
    full: { type: "boolean", default: false },
    runs: { type: "string", default: "1" },
    source: { type: "boolean", default: false },
    "agent-log": { type: "string" },
    "agent-only": { type: "boolean", default: false },
    "agent-prof": { type: "string" },
    bundle: { type: "string", multiple: true },
    "agent-node-arg": { type: "string", multiple: true },
  },
});
const corpus = (values.full ? ["/usr/share", "/usr/lib/x86_64-linux-gnu"] : values.corpus ?? ["/usr/share"]).map((p) => resolve(p));
const runs = Number(values.runs);
const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const bundles = (values.bundle ?? [BUNDLE]).map((b) => resolve(b));
for (const b of values.source ? [] : bundles) if (!existsSync(b)) throw new Error(`no bundle at ${b}: run pnpm bundle first (or pass --source)`);

const TICK = 100; // USER_HZ on Linux
/** utime + stime (+ children's when `children`) of one process or thread, in seconds; 0 once it is gone. */
function cpuOf(statPath: string, children = false): number {
  try {
    const f = readFileSync(statPath, "utf8");
    const rest = f.slice(f.lastIndexOf(")") + 2).split(" ");
    const n = (i: number) => Number(rest[i]);
    return (n(11) + n(12) + (children ? n(13) + n(14) : 0)) / TICK;
  } catch {
    return 0;
  }
}
/** "user + sys" CPU seconds of a process (sys: the kernel's share, e.g. writing and fsyncing the spool). */
function userSys(pid: number): string {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = f.slice(f.lastIndexOf(")") + 2).split(" ");
    return `${(Number(rest[11]) / TICK).toFixed(1)} user + ${(Number(rest[12]) / TICK).toFixed(1)} sys`;
  } catch {
    return "?";
  }
}
/** Every thread of a live process: name and CPU seconds, busiest first. */
function threadsOf(pid: number): Array<{ name: string; cpu: number }> {
  const out: Array<{ name: string; cpu: number }> = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      let name = "?";
      try {
        name = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      } catch {}
      out.push({ name: `${name}(${tid === String(pid) ? "main" : tid})`, cpu: cpuOf(`/proc/${pid}/task/${tid}/stat`) });
    }
  } catch {}
  return out.sort((a, b) => b.cpu - a.cpu);
}
/**
 * CPU seconds of the postgres backends serving this bench's database now (other engineers' test
 * databases share the server; the title names the database). Its connections live through a run.
 */
function postgresCpu(): number {
  let sum = 0;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(DB_NAME)) sum += cpuOf(`/proc/${pid}/stat`);
    } catch {}
  }
  return sum;
}
const selfCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
/** CPU seconds of this process's waited-for children (the CLI's whole process tree once it exited). */
const childrenCpu = () => cpuOf("/proc/self/stat", true) - cpuOf("/proc/self/stat");
/** [user, sys] CPU seconds of this process's waited-for children. */
function childrenUserSys(): [number, number] {
  const f = readFileSync("/proc/self/stat", "utf8");
  const rest = f.slice(f.lastIndexOf(")") + 2).split(" ");
  return [Number(rest[13]) / TICK, Number(rest[14]) / TICK];
}

/** Reads every file once so both sides start from the same (warm) page cache. */
function warm(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  const buf = Buffer.alloc(1 << 20);
  const walk = (d: string) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      let st;
      try {
        st = lstatSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) {
        files++;
        bytes += st.size;
        try {
          const fd = openSync(p, "r");
          while (readSync(fd, buf, 0, buf.length, null) > 0);
          closeSync(fd);
        } catch {
          // unreadable: both sides record it the same way
        }
      }
    }
  };
  walk(dir);
  return { files, bytes };
}

const load = () => loadavg().map((l) => l.toFixed(2)).join(" ");
let t = Date.now();
const sizes = corpus.map(warm);
console.log(`corpus ${corpus.join(" + ")}: ${sizes.reduce((a, s) => a + s.files, 0)} files, ${(sizes.reduce((a, s) => a + s.bytes, 0) / 1e6).toFixed(1)} MB (warmed in ${((Date.now() - t) / 1000).toFixed(1)} s); load ${load()}`);

// The real server without the e2e suite's fault proxy: that proxy buffers and JSON-parses every
// request (60k-entry pack reports included) in this process, which production does not pay.
const w = await createWorld({ azuriteLocation: await tmp("tp-azurite") });
const api = await serveAgentApi(w.svc);
const DB_NAME = new URL((w.database as { url?: string }).url ?? "postgres://x/unknown-database").pathname.slice(1);
const srv = { w, url: api.url, stop: async () => (await api.close(), await w.stop()) };
const connectionString = azuriteConnectionString(srv.w.azurite.blobEndpoint);
const cliEnv = { ...process.env, AZURE_STORAGE_CONNECTION_STRING: connectionString, TIDEMARK_PASSWORD: "bench-password-not-secret" };

async function agentRun(i: number, bundle: string): Promise<{ secs: number; bytes: number; cpu: string }> {
  const customerId = await newCustomer(srv.w, `Throughput ${i}`);
  await setPolicy(srv.w, { customerId }, { includePaths: corpus, rpoSeconds: 60, spoolLimitBytes: 64 * 1024 ** 3 });
  const stateDir = join(await tmp("tp-state"), "agent");
  const e = await cli(["enroll", "--server", srv.url, `--token=${await issueToken(srv.w, customerId)}`, "--name", `tp-${i}`, "--state-dir", stateDir]);
  if (e.code !== 0) throw new Error(e.out);
  const { machineId } = JSON.parse(await readFile(join(stateDir, "machine.json"), "utf8")) as { machineId: string };
  const entry = values.source ? ["--import", "tsx", join(ROOT, "agent/src/main.ts")] : [bundle];
  const pg0 = postgresCpu();
  const self0 = selfCpu();
  const t0 = Date.now();
  const prof = values["agent-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${resolve(values["agent-prof"])}`] : [];
  const child = spawn(process.execPath, [...(values["agent-node-arg"] ?? []), ...prof, ...entry, "run", "--state-dir", stateDir], { cwd: join(ROOT, "agent"), stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  // When the first point was spooled: the rest of the run is upload, pack reports and the commit.
  let spooledAt: number | undefined;
  child.stderr.on("data", (b) => {
    err = (err + b).slice(-8000);
    if (spooledAt === undefined && err.includes("point spooled")) spooledAt = Date.now();
    if (values["agent-log"]) appendFileSync(values["agent-log"], b);
  });
  // A bench killed half-way must not leave its agent running.
  process.once("exit", () => child.kill("SIGKILL"));
  const agent = { child, output: () => err, exited: new Promise<number | null>((r) => child.on("exit", r)) };
  let point;
  for (;;) {
    point = (await committed(srv.w, machineId))[0];
    if (point) break;
    if (child.exitCode !== null) throw new Error(`agent exited ${child.exitCode}:\n${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const secs = (Date.now() - t0) / 1000;
  const threads = threadsOf(child.pid!);
  // The process total also counts threads that already ended (the encoder workers close after the first point).
  const own = cpuOf(`/proc/${child.pid}/stat`);
  const cpu = `CPU s: agent ${own.toFixed(1)} (${userSys(child.pid!)}) [${threads.slice(0, 4).map((t) => `${t.name} ${t.cpu.toFixed(1)}`).join(", ")}], server+azurite ${(selfCpu() - self0).toFixed(1)}, postgres ${(postgresCpu() - pg0).toFixed(1)}`;
  if (spooledAt !== undefined) console.log(`  agent: spooled after ${((spooledAt - t0) / 1000).toFixed(1)} s, committed ${(secs - (spooledAt - t0) / 1000).toFixed(1)} s later`);
  await stopAgent(agent);
  return { secs, bytes: point.stats.bytes, cpu };
}

/** Async: Azurite runs in this process, so a blocking spawnSync would stall it (and the CLI with it). */
function run(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const c = spawn("pnpm", ["--silent", "tidemark", ...args], { cwd: ROOT, env: cliEnv, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (b) => (stdout += b));
    c.stderr.on("data", (b) => (stderr = (stderr + b).slice(-8000)));
    c.on("close", (status) => res({ status, stdout, stderr }));
  });
}

async function cliRun(i: number): Promise<{ secs: number; bytes: number; cpu: string }> {
  const repo = `azure://tp-cli-${process.pid}-${i}`;
  const init = await run(["init", "--repo", repo]);
  if (init.status !== 0) throw new Error(`tidemark init failed: ${init.stderr}`);
  const c0 = childrenCpu();
  const us0 = childrenUserSys();
  const self0 = selfCpu();
  const t0 = Date.now();
  const r = await run(["backup", "--repo", repo, "--json", ...corpus]);
  const secs = (Date.now() - t0) / 1000;
  const us1 = childrenUserSys();
  const cpu = `CPU s: cli (pnpm + node) ${(childrenCpu() - c0).toFixed(1)} (${(us1[0] - us0[0]).toFixed(1)} user + ${(us1[1] - us0[1]).toFixed(1)} sys), azurite ${(selfCpu() - self0).toFixed(1)}`;
  // Exit 3: saved, with unreadable entries (the agent records the same ones in its point).
  if (r.status !== 0 && r.status !== 3) throw new Error(`tidemark backup failed (${r.status}): ${r.stderr}`);
  const j = JSON.parse(r.stdout) as { snapshot: { stats: { bytes: number } } };
  return { secs, bytes: j.snapshot.stats.bytes, cpu };
}

const rows: Array<{ agent: number[]; cli: number }> = [];
try {
  for (let i = 0; i < runs; i++) {
    // Every bundle and the CLI once per run, the order rotating so no side always runs first.
    const who = [...bundles.map((b, k) => ({ kind: "agent" as const, b, k })), ...(values["agent-only"] ? [] : [{ kind: "cli" as const, b: "", k: -1 }])];
    const order = who.map((_, j) => who[(i + j) % who.length]!);
    const agentMBs: number[] = [];
    let cliMBs = 0;
    for (const x of order) {
      const before = load();
      const r = x.kind === "agent" ? await agentRun(i * bundles.length + x.k, x.b) : await cliRun(i);
      const label = x.kind === "cli" ? "cli" : bundles.length > 1 ? `agent ${String.fromCharCode(65 + x.k)}` : "agent";
      const mbs = r.bytes / 1e6 / r.secs;
      if (x.kind === "agent") agentMBs[x.k] = mbs;
      else cliMBs = mbs;
      console.log(`run ${i + 1} ${label.padEnd(7)}: ${r.secs.toFixed(1)} s, ${(r.bytes / 1e6).toFixed(1)} MB → ${mbs.toFixed(1)} MB/s (load before ${before}; ${r.cpu})`);
    }
    if (cliMBs) rows.push({ agent: agentMBs, cli: cliMBs });
  }
} finally {
  await srv.stop();
  await removeTmp();
}
if (rows.length === 0) process.exit(0);
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const c = med(rows.map((r) => r.cli));
bundles.forEach((b, k) => {
  const a = med(rows.map((r) => r.agent[k]!));
  console.log(`initial protection into Azurite (median of ${rows.length})${bundles.length > 1 ? ` [${String.fromCharCode(65 + k)} ${b}]` : ""}: agent ${a.toFixed(1)} MB/s, CLI ${c.toFixed(1)} MB/s, ratio ${((a / c) * 100).toFixed(0)} % (target ≥ 80 %); load now ${load()}`);
});
