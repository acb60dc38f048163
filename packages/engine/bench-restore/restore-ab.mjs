#!/usr/bin/env node
/**
 * Restore-only side-by-side: restic vs one or more tidemark CLI builds, interleaved
 * on the same corpus and machine, so ratios come from the same minutes of a shared box.
 *
 *   node bench-restore/restore-ab.mjs setup [--work DIR] [--corpus-src DIR …]
 *   node bench-restore/restore-ab.mjs run [--work DIR] [--rounds N] [--cli name=path/to/tidemark.js …] [--verify] [--threads]
 *
 * `--work /tmp/tidemark-bench` reuses the repositories the main bench keeps (its corpus is gone:
 * the size is then taken from the first restore, and --verify compares with restic's restore).
 * `--threads` samples /proc/<pid>/task every 50 ms and prints each thread's CPU seconds
 * (on 2 cores the wall time is about the busiest thread's CPU plus waits).
 * `--fresh-fs` restores each time into a newly made ext4 (no journal, like the bench's disk) on a
 * loop device: on a journal-less ext4 the inode allocator skips every inode freed in the last
 * 60 s (360 s while its inode-table block is dirty), checking each one's table block, so a
 * restore after an `rm -rf` of another — or of other engineers' test trees — spent ~60 % of its
 * CPU in recently_deleted/find_get_block_common (perf). A fresh filesystem has no such history.
 * To compare builds, copy a bundle directory (node_modules/.cache/tidemark-cli/<tree>/<build>)
 * under packages/engine/node_modules/.cache/ (so zstd-napi still resolves) and pass its tidemark.js.
 *
 * `setup` copies the corpus (default /usr/share + /usr/lib/x86_64-linux-gnu, as the main bench)
 * and backs it up once with each tool. `run` restores the latest point with restic and every
 * `--cli` (default: the current bundle through src/cli/bin.mjs) in turn, each round, waiting
 * for writeback to drain before each restore and after removing the previous one: file
 * creation costs several times more while writeback is in flight.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { copyCorpus, loadavg, settle } from "../../../bench/lib.mjs";

const engine = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    work: { type: "string", default: "/tmp/tmr-bench" },
    "corpus-src": { type: "string", multiple: true },
    rounds: { type: "string", default: "2" },
    cli: { type: "string", multiple: true },
    verify: { type: "boolean", default: false },
    "skip-restic": { type: "boolean", default: false },
    threads: { type: "boolean", default: false },
    "fresh-fs": { type: "boolean", default: false },
  },
});
const work = resolve(values.work);
const corpus = join(work, "corpus");
const password = "bench-password-not-secret";
const env = { ...process.env, RESTIC_PASSWORD: password, TIDEMARK_PASSWORD: password, RESTIC_CACHE_DIR: join(work, "restic-cache") };
const repos = { restic: join(work, "repo-restic"), tidemark: join(work, "repo-tidemark") };

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", env, maxBuffer: 1 << 28, ...opts });
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}):\n${(r.stderr ?? "").slice(-4000)}`);
  return r;
}

/** GNU time: wall, user, sys seconds and peak RSS (MiB); with --threads, CPU seconds per thread of the timed process. */
async function timed(cmd, args) {
  const tf = join(work, "time.txt");
  const child = spawn("/usr/bin/time", ["-o", tf, "-f", "%e %U %S %M", cmd, ...args], { env, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const threads = new Map();
  const hz = 100;
  const sample = () => {
    let kids;
    try {
      kids = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    } catch {
      return;
    }
    for (const pid of kids) {
      let tids;
      try {
        tids = readdirSync(`/proc/${pid}/task`);
      } catch {
        continue;
      }
      for (const tid of tids) {
        try {
          const st = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
          const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
          const comm = st.slice(st.indexOf("(") + 1, st.lastIndexOf(")"));
          threads.set(tid, { comm: tid === pid ? "main" : comm, user: Number(f[11]) / hz, sys: Number(f[12]) / hz, cpu: (Number(f[11]) + Number(f[12])) / hz });
        } catch {
          // thread ended between listing and reading
        }
      }
    }
  };
  const timer = values.threads ? setInterval(sample, 50) : undefined;
  const code = await new Promise((r) => child.on("exit", r));
  clearInterval(timer);
  if (code !== 0) throw new Error(`${cmd} failed (${code}):\n${stderr.slice(-4000)}`);
  const [wall, user, sys, kb] = readFileSync(tf, "utf8").trim().split("\n").pop().split(" ").map(Number);
  const top = [...threads.entries()].sort((a, b) => b[1].cpu - a[1].cpu).filter(([, t]) => t.cpu >= 0.05);
  return { wall, user, sys, rss: kb / 1024, threads: top.map(([, t]) => `${t.comm}:${t.cpu.toFixed(2)}(${t.user.toFixed(2)}u)`).join(" ") };
}

const du = (dir) => Number(sh("du", ["-sb", dir]).stdout.split("\t")[0]);

const image = join(work, "restore-fs.img");
const mnt = join(work, "restore-fs");
function dropFs() {
  sh("umount", [mnt], { allowFail: true, stdio: "ignore" });
  rmSync(image, { force: true });
}
/** A new empty ext4 without a journal, mounted; returns the directory to restore into. */
function freshFs() {
  dropFs();
  sh("truncate", ["-s", "8G", image]);
  sh("mkfs.ext4", ["-q", "-F", "-O", "^has_journal", image]);
  mkdirSync(mnt, { recursive: true });
  sh("mount", ["-o", "loop", image, mnt]);
  return join(mnt, "out");
}
/** What a restore is compared with: the corpus, or (when it is gone) restic's restore of it, made once. */
function reference() {
  if (existsSync(corpus)) return corpus;
  const ref = join(work, "ref-restic");
  if (!existsSync(ref)) sh("restic", ["restore", "latest", "--repo", repos.restic, "--target", ref]);
  return join(ref, corpus);
}

if (positionals[0] === "setup") {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(corpus, { recursive: true });
  copyCorpus(corpus, values["corpus-src"]);
  console.log(`corpus ${du(corpus)} bytes`);
  sh("restic", ["init", "--repo", repos.restic]);
  sh("restic", ["backup", "--repo", repos.restic, "--quiet", corpus]);
  sh(process.execPath, [join(engine, "src/cli/bin.mjs"), "init", "--repo", repos.tidemark]);
  sh(process.execPath, [join(engine, "src/cli/bin.mjs"), "backup", "--repo", repos.tidemark, corpus]);
  console.log("setup done");
} else if (positionals[0] === "run") {
  const clis = (values.cli ?? [`head=${join(engine, "src/cli/bin.mjs")}`]).map((s) => {
    const i = s.indexOf("=");
    return { name: s.slice(0, i), path: s.slice(i + 1) };
  });
  let bytes = existsSync(corpus) ? du(corpus) : 0;
  const runs = [];
  const tools = [...(values["skip-restic"] ? [] : [{ name: "restic" }]), ...clis];
  for (let round = 0; round < Number(values.rounds); round++) {
    // Rotate the order each round so neither tool always follows the other's writeback.
    const order = tools.map((_, i) => tools[(i + round) % tools.length]);
    for (const t of order) {
      let out = join(work, `out-${t.name}`);
      rmSync(out, { recursive: true, force: true });
      if (values["fresh-fs"]) out = freshFs();
      settle(120);
      const before = loadavg();
      const r =
        t.name === "restic"
          ? await timed("restic", ["restore", "latest", "--repo", repos.restic, "--target", out])
          : await timed(process.execPath, [t.path, "restore", "latest", "--repo", repos.tidemark, "--target", out]);
      bytes ||= du(out);
      const row = { round, tool: t.name, ...r, mbps: bytes / 1e6 / r.wall, load: before };
      runs.push(row);
      console.log(`${round} ${t.name.padEnd(8)} wall ${r.wall.toFixed(2)} s  ${row.mbps.toFixed(1)} MB/s  user ${r.user.toFixed(2)} sys ${r.sys.toFixed(2)}  rss ${r.rss.toFixed(0)} MiB  load ${before}${r.threads ? `\n   threads ${r.threads}` : ""}`);
      if (values.verify && t.name !== "restic") {
        const ref = reference();
        const d = sh("diff", ["-r", "--no-dereference", ref, join(out, corpus)], { allowFail: true });
        const meta = sh("rsync", ["-n", "-a", "--itemize-changes", "--no-owner", "--no-group", `${ref}/`, `${join(out, corpus)}/`], { allowFail: true });
        console.log(`   verify: diff ${d.status === 0 ? "identical" : "DIFFERS"}; rsync changes: ${meta.stdout.split("\n").filter(Boolean).length}`);
      }
    }
    if (values["fresh-fs"]) dropFs();
    const rr = runs.filter((x) => x.round === round);
    const restic = rr.find((x) => x.tool === "restic");
    if (restic) for (const x of rr) if (x.tool !== "restic") console.log(`   round ${round}: ${x.tool} ${(restic.wall / x.wall).toFixed(2)}× restic`);
  }
  for (const t of tools) rmSync(join(work, `out-${t.name}`), { recursive: true, force: true });
  dropFs();
} else {
  console.error("usage: restore-ab.mjs setup|run [options]");
  process.exit(2);
}
