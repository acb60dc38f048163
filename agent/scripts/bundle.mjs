// The agent as shipped: agent/dist/tidemark-agent.mjs, needing only Node 20 on the target plus the
// native addons, which cannot be bundled (see README: ship node_modules for these beside it).
// Beside it: the engine's encoder worker (encode-worker-boot.mjs → encode-worker.js), found by the
// engine relative to the bundle's own URL, and a package.json marking dist/*.js as ESM.
import { build } from "esbuild";
import { copyFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const engine = join(root, "../packages/engine/src/backup");
export const NATIVE = ["@parcel/watcher", "zstd-napi", "@node-rs/xxhash"];
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
};

await build({ ...common, entryPoints: [join(root, "src/main.ts")], outfile: join(root, "dist/tidemark-agent.mjs") });
await build({ ...common, entryPoints: [join(engine, "encode-worker.ts")], outfile: join(root, "dist/encode-worker.js") });
await copyFile(join(engine, "encode-worker-boot.mjs"), join(root, "dist/encode-worker-boot.mjs"));
await writeFile(join(root, "dist/package.json"), JSON.stringify({ type: "module", private: true }) + "\n");
console.log("wrote dist/tidemark-agent.mjs + encode-worker-boot.mjs + encode-worker.js (external: " + NATIVE.join(", ") + ")");
