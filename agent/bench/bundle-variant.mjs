// A/B builds for bench/throughput.ts --bundle: the agent bundle exactly as scripts/bundle.mjs makes
// it, except that the given source files are read from elsewhere (e.g. `git show HEAD:…` copies), so
// both sides of an A/B share every other file — the working tree, other engineers' uncommitted
// engine changes included — and nothing in the working tree is touched.
//   node bench/bundle-variant.mjs OUTDIR [repo/relative/path.ts=/replacement/file.ts]...
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleAgent } from "../scripts/bundle.mjs";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const [outArg, ...swaps] = process.argv.slice(2);
if (!outArg) throw new Error("usage: bundle-variant.mjs OUTDIR [path=replacement]...");
const replace = new Map(
  swaps.map((s) => {
    const [p, file] = s.split("=");
    if (!p || !file) throw new Error(`not path=replacement: ${s}`);
    return [resolve(repo, p), resolve(file)];
  }),
);
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
// Keep OUTDIR inside agent/ (e.g. agent/dist-b): the bundle finds the native addons in agent/node_modules.
const out = resolve(outArg);
await bundleAgent(out, { plugins: [swap] });
console.log(`wrote ${out} (${replace.size} file(s) swapped)`);
