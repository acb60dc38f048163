/**
 * The CLI runs from an esbuild bundle: under tsx, every start paid ~1 s
 * (a second node process, the loader thread, transpiling ~100 modules).
 * The bundle is rebuilt on demand whenever a file it was built from changed,
 * so nobody runs a stale CLI. Builds go to a fresh directory and are switched
 * in by an atomic rename of `current.json`: concurrent runs never see half a build.
 *
 * Layout (node_modules/.cache/tidemark-cli/<source tree>/<build>/): tidemark.js (the CLI),
 * encode-worker.js + encode-worker-boot.mjs and decode-worker.js (worker
 * entries the engine finds beside its own code), shared chunks, and a lazy
 * chunk for the Azure SDK. Native addons stay external and resolve from
 * packages/engine/node_modules.
 */
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const engineDir = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
// Keyed by the source tree: worktrees that share node_modules (a symlink) must not share builds.
const cacheDir = join(engineDir, "node_modules/.cache/tidemark-cli", createHash("sha256").update(realpathSync(engineDir)).digest("hex").slice(0, 16));
const pointer = join(cacheDir, "current.json");
/** Old builds stay this long: a CLI started from one may still load its lazy chunks. */
const KEEP_OLD_MS = 60 * 60 * 1000;

/**
 * size:mtime of a file. A file modified after `racyAfter` may have changed
 * while esbuild was reading it ("racy", as git calls it): it gets a stamp that
 * never matches, so the next run builds again.
 */
function stamp(file, racyAfter = Infinity) {
  try {
    const st = statSync(file);
    return st.mtimeMs >= racyAfter ? "racy" : `${st.size}:${st.mtimeMs}`;
  } catch {
    return "missing";
  }
}

/** The current build's directory, or undefined when any of its inputs changed. */
function freshBuild() {
  let cur;
  try {
    cur = JSON.parse(readFileSync(pointer, "utf8"));
  } catch {
    return undefined;
  }
  for (const [file, s] of Object.entries(cur.inputs)) if (stamp(file) !== s) return undefined;
  return join(cacheDir, cur.dir);
}

async function build() {
  // esbuild comes with tsx (a dependency of this package), at the version tsx was tested with.
  const tsxPkg = createRequire(import.meta.url).resolve("tsx/package.json");
  const esbuild = await import(pathToFileURL(createRequire(tsxPkg).resolve("esbuild")).href);
  // Coarse filesystem clocks: anything touched within a second of the start counts as possibly racy.
  const started = Date.now() - 1000;
  const dir = `build-${Date.now().toString(36)}-${process.pid}`;
  const out = join(cacheDir, dir);
  mkdirSync(out, { recursive: true });
  const src = join(engineDir, "src");
  const result = await esbuild.build({
    entryPoints: {
      tidemark: join(src, "cli/main.ts"),
      "encode-worker": join(src, "backup/encode-worker.ts"),
      "decode-worker": join(src, "restore/decode-worker.ts"),
    },
    outdir: out,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    external: ["zstd-napi", "@node-rs/xxhash"],
    // Bundled CommonJS dependencies may call require().
    banner: { js: 'import { createRequire as __tmCreateRequire } from "node:module"; const require = __tmCreateRequire(import.meta.url);' },
    metafile: true,
    logLevel: "error",
    sourcemap: "linked",
  });
  writeFileSync(join(out, "package.json"), '{"type":"module"}\n');
  copyFileSync(join(src, "backup/encode-worker-boot.mjs"), join(out, "encode-worker-boot.mjs"));
  const inputs = {};
  const here = fileURLToPath(import.meta.url);
  // Our sources, this file, and the lockfile (which stands for every bundled dependency's version).
  const lockfile = resolve(engineDir, "../../pnpm-lock.yaml");
  for (const f of [...Object.keys(result.metafile.inputs).map((p) => resolve(p)), here, join(src, "backup/encode-worker-boot.mjs"), lockfile]) {
    if (!f.includes("/node_modules/")) inputs[f] = stamp(f, started);
  }
  const tmp = `${pointer}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ dir, inputs }));
  renameSync(tmp, pointer);
  for (const old of readdirSync(cacheDir)) {
    if (!old.startsWith("build-") || old === dir) continue;
    try {
      if (Date.now() - statSync(join(cacheDir, old)).mtimeMs > KEEP_OLD_MS) rmSync(join(cacheDir, old), { recursive: true, force: true });
    } catch {
      // Another run removed it first.
    }
  }
  return out;
}

/** Directory of an up-to-date bundle, building it first when needed. */
export async function ensureBundle() {
  return freshBuild() ?? (await build());
}
