#!/usr/bin/env node
/**
 * Second-backup A/B against restic, interleaved in the same minutes (issue 3).
 *
 *   node bench-second/second-ab.mjs setup [--work DIR] [--corpus-src DIR …]
 *   node bench-second/second-ab.mjs run --cli base=PATH/tidemark.js --cli new=src/cli/bin.mjs [--rounds 4] [--work DIR] [--no-restic] [--node-arg=--cpu-prof …]
 *   node bench-second/second-ab.mjs pristine [--work DIR]      then   run --fresh …
 *
 * Without --fresh every tool keeps adding points to its own repository (a long-lived
 * repository: the parent's listings end up spread over many tree packs). `pristine`
 * takes one first backup per tool of the corpus as it is now; `run --fresh` copies
 * those back before every run and changes the same ~1 % of files each round (new
 * bytes, new mtime), so each run is exactly the bench's second backup: one parent
 * point, ~500 files changed since.
 *
 * `setup` copies the corpus (default: the bench's /usr/share + /usr/lib/x86_64-linux-gnu),
 * makes one restic repository and one tidemark repository with a first backup each.
 * `run` gives every tidemark CLI its own copy of that repository (made once), then per
 * round changes ~1 % of the files in place (a different 1 % each round, mtime bumped),
 * waits for writeback, and runs a second backup with every tool in a rotated order: each
 * tool's parent is its own previous point, so every run sees the same changed files.
 * Printed per run: wall, user, sys, peak RSS, per-thread CPU of the process (sampled from
 * /proc/<pid>/task every 10 ms; threads that end between samples lose their last
 * <10 ms) and the load average just before the run. A base bundle to compare with: copy a
 * build directory of node_modules/.cache/tidemark-cli/ (it resolves native addons from
 * packages/engine/node_modules, so keep it inside that tree).
 */
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync, closeSync, utimesSync, lstatSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { copyCorpus, loadavg, settle, walkFiles } from "../../../bench/lib.mjs";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    work: { type: "string", default: "/tmp/tm-second" },
    "corpus-src": { type: "string", multiple: true },
    cli: { type: "string", multiple: true },
    rounds: { type: "string", default: "4" },
    "no-restic": { type: "boolean", default: false },
    fresh: { type: "boolean", default: false },
    /** Extra node flags for the tidemark runs, e.g. --node-arg=--cpu-prof --node-arg=--cpu-prof-dir=/tmp/p */
    "node-arg": { type: "string", multiple: true },
  },
});
const work = resolve(values.work);
const corpus = join(work, "corpus");
const password = "bench-password-not-secret";
const env = { ...process.env, RESTIC_PASSWORD: password, TIDEMARK_PASSWORD: password, RESTIC_CACHE_DIR: join(work, "restic-cache") };
const TICKS = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

function sh(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: "utf8", env, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}):\n${(r.stderr ?? "").slice(-4000)}`);
  return r.stdout;
}

/** The tidemark CLI entry as argv: bin.mjs (rebuilds the bundle if needed) or a bundle's tidemark.js. */
const tmArgs = (entry, args) => [process.execPath, [...(values["node-arg"] ?? []), resolve(entry), ...args]];

/** Runs one command; returns wall/user/sys/RSS and per-thread CPU seconds by thread name. */
function measured(cmd, args) {
  return new Promise((done, fail) => {
    const tf = join(work, `time-${process.pid}.txt`);
    const started = process.hrtime.bigint();
    const child = spawn("/usr/bin/time", ["-o", tf, "-f", "%e %U %S %M", cmd, ...args], { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const threads = new Map();
    let pid;
    const sample = () => {
      if (pid === undefined) {
        try {
          pid = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8").trim().split(/\s+/)[0]) || undefined;
        } catch {
          return;
        }
        if (pid === undefined) return;
      }
      let tids;
      try {
        tids = readdirSync(`/proc/${pid}/task`);
      } catch {
        return;
      }
      for (const tid of tids) {
        try {
          const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
          const close = stat.lastIndexOf(")");
          const name = stat.slice(stat.indexOf("(") + 1, close);
          const f = stat.slice(close + 2).split(" ");
          const cpu = (Number(f[11]) + Number(f[12])) / TICKS;
          threads.set(tid, { name: Number(tid) === pid ? "main" : `${name}+${Number(tid) - pid}`, cpu });
        } catch {
          // the thread ended between listing and reading
        }
      }
    };
    const timer = setInterval(sample, 10);
    child.on("exit", (code) => {
      clearInterval(timer);
      const wallNs = Number(process.hrtime.bigint() - started);
      if (code !== 0) return fail(new Error(`${cmd} ${args.join(" ")} exited ${code}: ${stderr.slice(-2000)}`));
      const [secs, user, sys, kb] = readFileSync(tf, "utf8").trim().split("\n").pop().split(" ").map(Number);
      // The main thread by name; the others one by one (encoder worker, scrypt in the thread pool, GC helpers).
      const byName = {};
      for (const [tid, { name, cpu }] of threads) byName[name] = cpu;
      done({ wall: secs, wallNs, user, sys, rssMiB: kb / 1024, threads: byName });
    });
  });
}

/** ~1 % of the files, a different 1 % each round: a few bytes in the middle, mtime bumped. */
function mutate(files, round) {
  let changed = 0;
  for (let i = values.fresh ? 0 : (round * 37) % 100; i < files.length; i += 100) {
    const f = files[i];
    const st = lstatSync(f);
    if (!st.isFile() || st.size === 0) continue;
    const fd = openSync(f, "r+");
    writeSync(fd, Buffer.from(`tidemark-second-${round}-${i}`), 0, undefined, Math.floor(st.size / 2));
    closeSync(fd);
    const t = new Date(Date.now() + 5000 + round * 1000);
    utimesSync(f, t, t);
    changed++;
  }
  return changed;
}

const fmtThreads = (t) =>
  Object.entries(t)
    .sort((a, b) => b[1] - a[1])
    .filter(([, v]) => v >= 0.02)
    .slice(0, 8)
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(", ");

/** A first backup of the corpus as it is now into new repositories repo-restic<suffix>, repo-tidemark<suffix>. */
function firstBackups(suffix) {
  sh("restic", ["init", "--repo", join(work, `repo-restic${suffix}`)]);
  sh("restic", ["backup", "--repo", join(work, `repo-restic${suffix}`), "--quiet", corpus]);
  const cli = join(import.meta.dirname, "../src/cli/bin.mjs");
  sh(...tmArgs(cli, ["init", "--repo", join(work, `repo-tidemark${suffix}`)]));
  sh(...tmArgs(cli, ["backup", "--repo", join(work, `repo-tidemark${suffix}`), corpus]));
  settle();
}

async function setup() {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(corpus, { recursive: true });
  copyCorpus(corpus, values["corpus-src"]);
  console.log(`corpus: ${walkFiles(corpus).length} files`);
  firstBackups("");
  console.log("setup done");
}

async function pristine() {
  for (const d of ["repo-restic.pristine", "repo-tidemark.pristine"]) rmSync(join(work, d), { recursive: true, force: true });
  firstBackups(".pristine");
  console.log("pristine repositories made");
}

/** --fresh: the tool's repository as it was after its first backup. */
function freshRepo(tool) {
  const repo = join(work, `repo-${tool}`);
  rmSync(repo, { recursive: true, force: true });
  cpSync(join(work, tool === "restic" ? "repo-restic.pristine" : "repo-tidemark.pristine"), repo, { recursive: true });
}

async function run() {
  const clis = (values.cli ?? []).map((s) => {
    const eq = s.indexOf("=");
    if (eq < 1) throw new Error(`--cli wants NAME=PATH, got ${s}`);
    return { name: s.slice(0, eq), entry: s.slice(eq + 1) };
  });
  const tools = [...(values["no-restic"] ? [] : [{ name: "restic" }]), ...clis];
  for (const c of clis) {
    const repo = join(work, `repo-${c.name}`);
    if (!existsSync(repo)) cpSync(join(work, "repo-tidemark"), repo, { recursive: true });
  }
  const files = walkFiles(corpus);
  const rounds = Number(values.rounds);
  const state = join(work, "round.txt");
  const first = existsSync(state) ? Number(readFileSync(state, "utf8")) : 1;
  for (let round = first; round < first + rounds; round++) {
    const changed = mutate(files, round);
    spawnSync("sh", ["-c", `echo ${round + 1} > ${state}`]);
    const order = tools.map((_, i) => tools[(i + round) % tools.length]);
    const line = [];
    for (const t of order) {
      if (values.fresh) freshRepo(t.name);
      settle();
      const load = loadavg();
      const r =
        t.name === "restic"
          ? await measured("restic", ["backup", "--repo", join(work, "repo-restic"), "--quiet", corpus])
          : await measured(...tmArgs(t.entry, ["backup", "--repo", join(work, `repo-${t.name}`), corpus]));
      const cpu = r.user + r.sys;
      console.log(
        `round ${round} (${changed} changed) ${t.name.padEnd(7)} wall ${r.wall.toFixed(2)} s  cpu ${cpu.toFixed(2)} (user ${r.user.toFixed(2)} sys ${r.sys.toFixed(2)})  rss ${r.rssMiB.toFixed(0)} MiB  load ${load}  | ${fmtThreads(r.threads)}`,
      );
      line.push(`${t.name} ${r.wall.toFixed(2)}`);
    }
    console.log(`round ${round}: ${line.join("  ")}  (uptime: ${spawnSync("uptime", { encoding: "utf8" }).stdout.trim()})`);
  }
}

if (positionals[0] === "setup") await setup();
else if (positionals[0] === "pristine") await pristine();
else if (positionals[0] === "run") await run();
else {
  console.error("usage: second-ab.mjs setup | run --cli NAME=PATH …");
  process.exit(2);
}
