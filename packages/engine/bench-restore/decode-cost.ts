/**
 * Where a decode worker's time goes, per phase, on real packs of a local repository:
 *   TIDEMARK_PASSWORD=… tsx bench-restore/decode-cost.ts REPO_DIR [packs]
 * Times (single thread, CPU): GCM open, zstd into a reused buffer, HMAC id, and decodeRun as a whole.
 */
import { createRequire } from "node:module";
import { LocalBlobStore } from "@tidemark/storage";
import { env } from "@tidemark/config";
import { Repository } from "../src/repository";
import { decryptBlob } from "../src/crypto/aead";
import { contentId } from "../src/id";
import { packKeyName } from "../src/pack/format";
import { decodeRun } from "../src/restore/decode-core";

const [dir, packsArg] = process.argv.slice(2);
const repo = await Repository.open(new LocalBlobStore({ root: dir! }), { password: env().TIDEMARK_PASSWORD! });
const zstd = createRequire(import.meta.url)("zstd-napi/binding") as typeof import("zstd-napi/binding");
const dctx = new zstd.DCtx();
const byPack = new Map<string, Array<[string, { offset: number; length: number; rawLength: number; type: number }]>>();
for (const [id, e] of repo.index.entries()) if (e.type === 0) (byPack.get(e.pack) ?? byPack.set(e.pack, []).get(e.pack)!).push([id, e]);
const packs = [...byPack.keys()].slice(0, Number(packsArg ?? 8));
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e3; };
const t = { gcm: 0, zstd: 0, hmac: 0, whole: 0 };
let raw = 0, sealedBytes = 0, blobs = 0, compressed = 0;
const dst = Buffer.allocUnsafe(64 << 20);
const into = new SharedArrayBuffer(96 << 20);
for (const pack of packs) {
  const list = byPack.get(pack)!.sort((a, b) => a[1].offset - b[1].offset);
  const start = list[0]![1].offset;
  const last = list.at(-1)![1];
  const bytes = await repo.store.get(packKeyName(pack), { offset: start, length: last.offset + last.length - start });
  const key = repo.packKey(pack, repo.index.packInfo(pack)!.salt);
  for (const [id, e] of list) {
    const sealed = bytes.subarray(e.offset - start, e.offset - start + e.length);
    let c = cpu();
    const pt = decryptBlob(key, e.offset, Buffer.from(id, "hex"), e.type, sealed)!;
    t.gcm += cpu() - c;
    c = cpu();
    const data = pt[0] === 1 ? dst.subarray(0, dctx.decompress(dst, pt.subarray(1))) : pt.subarray(1);
    if (pt[0] === 1) compressed++;
    t.zstd += cpu() - c;
    c = cpu();
    contentId(repo.keys.id, data);
    t.hmac += cpu() - c;
    raw += e.rawLength; sealedBytes += e.length; blobs++;
  }
  const c = cpu();
  decodeRun(repo.keys.id, { runId: 0, pack, key, start, sealed: bytes, blobs: list.map(([id, e]) => ({ type: e.type as 0, id, offset: e.offset, length: e.length, rawLength: e.rawLength })), into });
  t.whole += cpu() - c;
}
console.log(`${packs.length} packs, ${blobs} blobs (${compressed} zstd), sealed ${(sealedBytes / 1e6).toFixed(1)} MB, raw ${(raw / 1e6).toFixed(1)} MB`);
console.log(`cpu ms: gcm ${t.gcm.toFixed(0)}  zstd ${t.zstd.toFixed(0)}  hmac ${t.hmac.toFixed(0)}  decodeRun ${t.whole.toFixed(0)}`);
repo.close();
