#!/usr/bin/env node
/**
 * Side-by-side benchmark: restic vs `tidemark` on the same corpus, same
 * machine, one run. Prints a table with ratios against restic.
 *
 *   node bench/engine-vs-restic.mjs [--corpus-src DIR …] [--work DIR] [--skip-azure]
 *
 * Corpus: a copy of real files already on the machine (default /usr/share and
 * /usr/lib/x86_64-linux-gnu, ~1.4 GB, ~50k files) so that ~1% can be changed
 * in place between the first and second backup. Each step is timed with GNU
 * time (wall seconds, peak RSS of the largest process). Both tools see the
 * page cache in the same state (the corpus was just copied).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, openSync, readdirSync, rmSync, statSync, writeSync, closeSync, utimesSync, writeFileSync, lstatSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { availableParallelism } from "node:os";
import { copyCorpus, DEFAULT_SOURCES, loadavg, settle, walkFiles } from "./lib.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({
  options: {
    "corpus-src": { type: "string", multiple: true },
    work: { type: "string", default: "/tmp/tidemark-bench" },
    "skip-azure": { type: "boolean", default: false },
    "keep": { type: "boolean", default: false },
  },
});
const sources = values["corpus-src"] ?? DEFAULT_SOURCES;
const work = resolve(values.work);
const corpus = join(work, "corpus");
const password = "bench-password-not-secret";
const env = { ...process.env, RESTIC_PASSWORD: password, TIDEMARK_PASSWORD: password, RESTIC_CACHE_DIR: join(work, "restic-cache") };

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", env, maxBuffer: 1 << 28, ...opts });
  if (r.status !== 0 && !opts.allowFail) {
    throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}):\n${(r.stderr ?? "").slice(-4000)}`);
  }
  return r;
}

/** Run under GNU time; returns wall seconds, peak RSS (MiB) and stdout. */
function timed(label, cmd, args) {
  const tf = join(work, "time.txt");
  // The box is shared: each step's number means little without the load it ran under.
  const load = loadavg();
  const r = sh("/usr/bin/time", ["-o", tf, "-f", "%e %M", cmd, ...args], { allowFail: true });
  if (r.status !== 0) throw new Error(`${label} failed (${r.status}):\n${(r.stderr ?? "").slice(-4000)}`);
  const [secs, kb] = sh("cat", [tf]).stdout.trim().split("\n").pop().split(" ");
  const result = { secs: Number(secs), rssMiB: Number(kb) / 1024, stdout: r.stdout };
  console.error(`  ${label}: ${result.secs.toFixed(1)} s, peak RSS ${result.rssMiB.toFixed(0)} MiB (load before: ${load})`);
  return result;
}

function du(dir) {
  return Number(sh("du", ["-sb", dir]).stdout.split("\t")[0]);
}

// --- set-up -----------------------------------------------------------------
if (!existsSync("/usr/bin/restic")) {
  console.error("installing restic from apt…");
  sh("apt-get", ["install", "-y", "--no-install-recommends", "restic"]);
}
rmSync(work, { recursive: true, force: true });
mkdirSync(corpus, { recursive: true });
console.error(`building corpus in ${corpus} from ${sources.join(", ")}…`);
copyCorpus(corpus, sources);
const files = walkFiles(corpus);
const logicalBytes = du(corpus);
console.error(`corpus: ${files.length} files, ${(logicalBytes / 1e9).toFixed(2)} GB`);

// The bundled CLI, as `pnpm tidemark` runs it (rebuilt first if any source changed).
const tidemarkCli = [process.execPath, join(root, "packages/engine/src/cli/bin.mjs")];
const tm = (args) => [tidemarkCli[0], [tidemarkCli[1], ...args]];
const repos = { restic: join(work, "repo-restic"), tidemark: join(work, "repo-tidemark") };

// Change ~1% of files in place: a few bytes in the middle, mtime bumped.
function mutateOnePercent() {
  let changed = 0;
  for (let i = 0; i < files.length; i += 100) {
    const f = files[i];
    const st = lstatSync(f);
    if (!st.isFile() || st.size === 0) continue;
    const fd = openSync(f, "r+");
    writeSync(fd, Buffer.from(`tidemark-bench-${i}`), 0, undefined, Math.floor(st.size / 2));
    closeSync(fd);
    const t = new Date(Date.now() + 5000);
    utimesSync(f, t, t);
    changed++;
  }
  return changed;
}

// --- runs -------------------------------------------------------------------
const results = { restic: {}, tidemark: {} };

console.error("restic:");
sh("restic", ["init", "--repo", repos.restic]);
settle();
results.restic.backup1 = timed("restic backup #1", "restic", ["backup", "--repo", repos.restic, "--quiet", corpus]);
console.error("tidemark:");
sh(...tm(["init", "--repo", repos.tidemark]));
settle();
results.tidemark.backup1 = timed("tidemark backup #1", ...tm(["backup", "--repo", repos.tidemark, corpus]));

const changed = mutateOnePercent();
console.error(`changed ${changed} files in place`);
settle();
results.restic.backup2 = timed("restic backup #2", "restic", ["backup", "--repo", repos.restic, "--quiet", corpus]);
settle();
results.tidemark.backup2 = timed("tidemark backup #2", ...tm(["backup", "--repo", repos.tidemark, corpus]));

results.restic.size = du(repos.restic);
results.tidemark.size = du(repos.tidemark);

const rt = { restic: join(work, "restore-restic"), tidemark: join(work, "restore-tidemark") };
settle();
results.restic.restore = timed("restic restore", "restic", ["restore", "latest", "--repo", repos.restic, "--target", rt.restic]);
settle();
results.tidemark.restore = timed("tidemark restore", ...tm(["restore", "latest", "--repo", repos.tidemark, "--target", rt.tidemark]));
// Correctness guard: a fast restore that restored the wrong bytes is not a result.
const diff = sh("diff", ["-rq", "--no-dereference", join(rt.restic, corpus), join(rt.tidemark, corpus)], { allowFail: true });
const restoreIdentical = diff.status === 0;
if (!restoreIdentical) console.error(`WARNING: restores differ:\n${diff.stdout.slice(0, 2000)}`);
// With --keep the restores stay too: on this VM's journal-less ext4 a large delete makes file
// creation crawl for up to ~6 minutes (the allocator steps over recently freed inodes), so back-to-back
// runs keep everything and the caller deletes once the measuring is over.
if (!values.keep) {
  rmSync(rt.restic, { recursive: true, force: true });
  rmSync(rt.tidemark, { recursive: true, force: true });
}

// --- tidemark against Azurite --------------------------------------------------
let azure = null;
if (!values["skip-azure"]) {
  const loc = join(work, "azurite");
  mkdirSync(loc, { recursive: true });
  const { spawn } = await import("node:child_process");
  const az = spawn(join(root, "packages/storage/node_modules/.bin/azurite-blob"), ["--silent", "--loose", "--skipApiVersionCheck", "--disableTelemetry", "--blobHost", "127.0.0.1", "--blobPort", "10999", "--location", loc], { stdio: "ignore" });
  await new Promise((r) => setTimeout(r, 3000));
  const conn = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10999/devstoreaccount1;";
  env.AZURE_STORAGE_CONNECTION_STRING = conn;
  try {
    sh(...tm(["init", "--repo", "azure://bench"]));
    azure = timed("tidemark backup → Azurite", ...tm(["backup", "--repo", "azure://bench", corpus]));
  } catch (e) {
    console.error(`Azurite run failed: ${e.message.split("\n")[0]}`);
  } finally {
    az.kill();
  }
}

// --- report -----------------------------------------------------------------
const mbps = (secs) => logicalBytes / 1e6 / secs;
const row = (name, r, t, unit, better) => {
  const ratio = better === "higher" ? t / r : r / t;
  return `| ${name} | ${r.toFixed(unit === "MB/s" ? 1 : 2)} ${unit} | ${t.toFixed(unit === "MB/s" ? 1 : 2)} ${unit} | ${ratio.toFixed(2)}× |`;
};
const R = results.restic, T = results.tidemark;
const load = loadavg();
const lines = [
  `load average at the end: ${load} (${availableParallelism()} cores)`,
  `corpus: ${files.length} files, ${(logicalBytes / 1e9).toFixed(2)} GB; ${changed} files changed in place; restores identical: ${restoreIdentical}`,
  "",
  "| measure | restic | tidemark | tidemark vs restic (>1 is better) |",
  "|---|---|---|---|",
  row("initial backup throughput", mbps(R.backup1.secs), mbps(T.backup1.secs), "MB/s", "higher"),
  row("second backup time (1% changed)", R.backup2.secs, T.backup2.secs, "s", "lower"),
  row("full restore throughput", mbps(R.restore.secs), mbps(T.restore.secs), "MB/s", "higher"),
  row("repository size", R.size / 1e6, T.size / 1e6, "MB", "lower"),
  row("peak RSS (max of all steps)", Math.max(R.backup1.rssMiB, R.backup2.rssMiB, R.restore.rssMiB), Math.max(T.backup1.rssMiB, T.backup2.rssMiB, T.restore.rssMiB), "MiB", "lower"),
  "",
  "targets: initial ≥ 1.3×, second ≥ 1.0×, restore ≥ 1.3×, size ratio ≥ 0.98× (≤ 1.02× restic's), tidemark peak RSS ≤ 512 MiB",
];
if (azure) lines.push(`tidemark initial backup → Azurite: ${mbps(azure.secs).toFixed(1)} MB/s (${azure.secs.toFixed(1)} s), peak RSS ${azure.rssMiB.toFixed(0)} MiB`);
console.log(lines.join("\n"));
writeFileSync(join(work, "result.md"), lines.join("\n") + "\n");
if (!values.keep) rmSync(corpus, { recursive: true, force: true });
