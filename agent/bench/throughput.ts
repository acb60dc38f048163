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
 *
 * Timing: agent = process start → first point committed on the server (spool, upload,
 * chunks/missing, pack reports, commit); CLI = process start → exit (init not counted).
 * Both include their process start-up. MB = 10^6 bytes of the point's logical size.
 */
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { appendFileSync, openSync, readSync, closeSync, readdirSync, lstatSync, existsSync } from "node:fs";
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
  },
});
const corpus = (values.full ? ["/usr/share", "/usr/lib/x86_64-linux-gnu"] : values.corpus ?? ["/usr/share"]).map((p) => resolve(p));
const runs = Number(values.runs);
const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
if (!values.source && !existsSync(BUNDLE)) throw new Error(`no bundle at ${BUNDLE}: run pnpm bundle first (or pass --source)`);

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
const srv = { w, url: api.url, stop: async () => (await api.close(), await w.stop()) };
const connectionString = azuriteConnectionString(srv.w.azurite.blobEndpoint);
const cliEnv = { ...process.env, AZURE_STORAGE_CONNECTION_STRING: connectionString, TIDEMARK_PASSWORD: "bench-password-not-secret" };

async function agentRun(i: number): Promise<{ secs: number; bytes: number }> {
  const customerId = await newCustomer(srv.w, `Throughput ${i}`);
  await setPolicy(srv.w, { customerId }, { includePaths: corpus, rpoSeconds: 60, spoolLimitBytes: 64 * 1024 ** 3 });
  const stateDir = join(await tmp("tp-state"), "agent");
  const e = await cli(["enroll", "--server", srv.url, `--token=${await issueToken(srv.w, customerId)}`, "--name", `tp-${i}`, "--state-dir", stateDir]);
  if (e.code !== 0) throw new Error(e.out);
  const { machineId } = JSON.parse(await readFile(join(stateDir, "machine.json"), "utf8")) as { machineId: string };
  const entry = values.source ? ["--import", "tsx", join(ROOT, "agent/src/main.ts")] : [BUNDLE];
  const t0 = Date.now();
  const prof = values["agent-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${resolve(values["agent-prof"])}`] : [];
  const child = spawn(process.execPath, [...prof, ...entry, "run", "--state-dir", stateDir], { cwd: join(ROOT, "agent"), stdio: ["ignore", "ignore", "pipe"] });
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
  if (spooledAt !== undefined) console.log(`  agent: spooled after ${((spooledAt - t0) / 1000).toFixed(1)} s, committed ${(secs - (spooledAt - t0) / 1000).toFixed(1)} s later`);
  await stopAgent(agent);
  return { secs, bytes: point.stats.bytes };
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

async function cliRun(i: number): Promise<{ secs: number; bytes: number }> {
  const repo = `azure://tp-cli-${process.pid}-${i}`;
  const init = await run(["init", "--repo", repo]);
  if (init.status !== 0) throw new Error(`tidemark init failed: ${init.stderr}`);
  const t0 = Date.now();
  const r = await run(["backup", "--repo", repo, "--json", ...corpus]);
  const secs = (Date.now() - t0) / 1000;
  // Exit 3: saved, with unreadable entries (the agent records the same ones in its point).
  if (r.status !== 0 && r.status !== 3) throw new Error(`tidemark backup failed (${r.status}): ${r.stderr}`);
  const j = JSON.parse(r.stdout) as { snapshot: { stats: { bytes: number } } };
  return { secs, bytes: j.snapshot.stats.bytes };
}

const rows: Array<{ agent: number; cli: number }> = [];
try {
  for (let i = 0; i < runs; i++) {
    const order = i % 2 === 0 ? (["agent", "cli"] as const) : (["cli", "agent"] as const);
    const r: Record<string, { secs: number; bytes: number }> = {};
    for (const who of order.filter((w) => w === "agent" || !values["agent-only"])) {
      const before = load();
      r[who] = who === "agent" ? await agentRun(i) : await cliRun(i);
      console.log(`run ${i + 1} ${who.padEnd(5)}: ${r[who]!.secs.toFixed(1)} s, ${(r[who]!.bytes / 1e6).toFixed(1)} MB → ${(r[who]!.bytes / 1e6 / r[who]!.secs).toFixed(1)} MB/s (load before ${before})`);
    }
    if (r.cli) rows.push({ agent: r.agent!.bytes / 1e6 / r.agent!.secs, cli: r.cli.bytes / 1e6 / r.cli.secs });
  }
} finally {
  await srv.stop();
  await removeTmp();
}
if (rows.length === 0) process.exit(0);
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const a = med(rows.map((r) => r.agent));
const c = med(rows.map((r) => r.cli));
console.log(`initial protection into Azurite (median of ${rows.length}): agent ${a.toFixed(1)} MB/s, CLI ${c.toFixed(1)} MB/s, ratio ${((a / c) * 100).toFixed(0)} % (target ≥ 80 %); load now ${load()}`);
