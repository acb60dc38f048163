// A/B builds for bench/throughput.ts --bundle: the agent bundle exactly as scripts/bundle.mjs makes
// it, except that the given source files are read from elsewhere (e.g. `git show HEAD:…` copies), so
// both sides of an A/B share every other file — the working tree, other engineers' uncommitted
// engine changes included — and nothing in the working tree is touched.
//   node bench/bundle-variant.mjs OUTDIR [repo/relative/path.ts=/replacement/file.ts]...
import { build } from "esbuild";
import { copyFile, readFile, writeFile, mkdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { dirname, join, resolve } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const repo = resolve(root, "..");
const [outArg, ...swaps] = process.argv.slice(2);
if (!outArg) throw new Error("usage: bundle-variant.mjs OUTDIR [path=replacement]...");
// Beside agent/ so the bundle finds agent/node_modules (the native addons) as the real one does.
const out = resolve(outArg);
const replace = new Map(swaps.map((s) => {
  const [p, file] = s.split("=");
  return [resolve(repo, p), resolve(file)];
}));
const swap = {
  name: "swap",
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      const file = replace.get(args.path);
      if (!file) return undefined;
      return { contents: await readFile(file, "utf8"), loader: "ts", resolveDir: dirname(args.path) };
    });
  },
};
const engine = join(root, "../packages/engine/src/backup");
const engineRestore = join(root, "../packages/engine/src/restore");
const common = {
  bundle: true, platform: "node", target: "node20", format: "esm",
  external: ["@parcel/watcher", "zstd-napi", "@node-rs/xxhash"],
  banner: { js: "import { createRequire as __tmCreateRequire } from 'node:module'; const require = __tmCreateRequire(import.meta.url);" },
  legalComments: "none", logLevel: "warning", plugins: [swap],
};
await mkdir(out, { recursive: true });
await build({ ...common, entryPoints: [join(root, "src/main.ts")], outfile: join(out, "tidemark-agent.mjs") });
await build({ ...common, entryPoints: [join(engine, "encode-worker.ts")], outfile: join(out, "encode-worker.js") });
await build({ ...common, entryPoints: [join(engineRestore, "decode-worker.ts")], outfile: join(out, "decode-worker.js") });
await copyFile(join(engine, "encode-worker-boot.mjs"), join(out, "encode-worker-boot.mjs"));
await writeFile(join(out, "package.json"), JSON.stringify({ type: "module", private: true }) + "\n");
console.log(`wrote ${out} (${replace.size} file(s) swapped)`);
