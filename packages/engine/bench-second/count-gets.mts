/**
 * How many GETs (and bytes) a backup makes against a repository: repository open,
 * then one backup of SOURCE with its parent. TRACE=1 prints where each small
 * (< 4 KiB, i.e. single-listing) read came from. Works on a copy: it adds a point.
 *
 *   ./node_modules/.bin/tsx bench-second/count-gets.mts REPO SOURCE   (password: the bench's)
 */
import { Repository } from "../src/repository";
import { backup } from "../src/backup/backup";
import { createStoreFromUrl } from "@tidemark/storage";
const store = createStoreFromUrl(process.argv[2]!) as any;
const orig = store.get.bind(store);
let gets = 0, bytes = 0; const sizes: number[] = [];
store.get = async (k: string, o: any) => { gets++; const b = await orig(k, o); bytes += b.length; if (k.startsWith("data/")) { sizes.push(b.length); if (b.length < 4096 && process.env.TRACE) console.log(new Error().stack!.split("\n").slice(2, 9).join(" | ")); } return b; };
const repo = await Repository.open(store, { password: "bench-password-not-secret" });
let trees = 0, tbytes = 0; const tpacks = new Set<string>();
for (const [, e] of repo.index.entries()) if (e.type === 1) { trees++; tbytes += e.length; tpacks.add(e.pack); }
console.log({ trees, tbytes, tpacks: tpacks.size, getsOpen: gets });
gets = 0; bytes = 0;
const t = Date.now();
const r = await backup(repo, { paths: [process.argv[3]!] });
sizes.sort((a, b) => a - b);
console.log({ ms: Date.now() - t, gets, bytes, dataGets: sizes.length, median: sizes[sizes.length >> 1], small: sizes.filter((s) => s < 4096).length, files: r.snapshot.stats.files, read: r.snapshot.stats.readBytes });
await repo.close();
