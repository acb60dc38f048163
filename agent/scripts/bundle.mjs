// One-file agent: agent/dist/tidemark-agent.mjs, needing only Node 20 on the target plus the
// native addons, which cannot be bundled (see README: ship node_modules for these beside it).
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const NATIVE = ["@parcel/watcher", "zstd-napi", "@node-rs/xxhash"];

await build({
  entryPoints: [join(root, "src/main.ts")],
  outfile: join(root, "dist/tidemark-agent.mjs"),
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  external: NATIVE,
  // Some CommonJS dependencies (the Azure SDK) call require(): give the ESM bundle one.
  banner: { js: "import { createRequire as __tmCreateRequire } from 'node:module'; const require = __tmCreateRequire(import.meta.url);" },
  legalComments: "none",
  logLevel: "warning",
});
console.log("wrote dist/tidemark-agent.mjs (external: " + NATIVE.join(", ") + ")");
