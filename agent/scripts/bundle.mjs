// The agent as shipped: agent/dist/tidemark-agent.mjs, needing only Node 20 on the target plus the
// native addons, which cannot be bundled (see README: ship node_modules for these beside it).
// Beside it: the engine's encoder worker (encode-worker-boot.mjs → encode-worker.js), found by the
// engine relative to the bundle's own URL; the restore decode worker (decode-worker.js), passed to the
// engine by the agent's restore jobs; and a package.json marking dist/*.js as ESM.
// `--outdir DIR` writes the same files elsewhere (tests build their own copy, not agent/dist).
import { build } from "esbuild";
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { dirname, join, resolve } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const engine = join(root, "../packages/engine/src/backup");
const engineRestore = join(root, "../packages/engine/src/restore");
export const NATIVE = ["@parcel/watcher", "zstd-napi", "@node-rs/xxhash"];

/** Writes the shipped folder into `out`; `plugins`: extra esbuild plugins (bench/bundle-variant.mjs swaps files). */
export async function bundleAgent(out, { plugins = [] } = {}) {
  const common = {
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    external: NATIVE,
    // Some CommonJS dependencies (the Azure SDK) call require(): give the ESM bundle one.
    banner: { js: "import { createRequire as __tmCreateRequire } from 'node:module'; const require = __tmCreateRequire(import.meta.url);" },
    legalComments: "none",
    logLevel: "warning",
    plugins,
  };
  await mkdir(out, { recursive: true });
  await build({ ...common, entryPoints: [join(root, "src/main.ts")], outfile: join(out, "tidemark-agent.mjs") });
  await build({ ...common, entryPoints: [join(engine, "encode-worker.ts")], outfile: join(out, "encode-worker.js") });
  await build({ ...common, entryPoints: [join(engineRestore, "decode-worker.ts")], outfile: join(out, "decode-worker.js") });
  await copyFile(join(engine, "encode-worker-boot.mjs"), join(out, "encode-worker-boot.mjs"));
  await writeFile(join(out, "package.json"), JSON.stringify({ type: "module", private: true }) + "\n");
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf("--outdir");
  if (at >= 0 && !process.argv[at + 1]) throw new Error("--outdir needs a directory");
  const out = at >= 0 ? resolve(process.argv[at + 1]) : join(root, "dist");
  await bundleAgent(out);
  console.log(`wrote ${out}: tidemark-agent.mjs + encode-worker-boot.mjs + encode-worker.js + decode-worker.js (external: ${NATIVE.join(", ")})`);
}
