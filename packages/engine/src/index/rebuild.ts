/**
 * Rebuilds index entries from the packs themselves (their encrypted
 * trailers): the repository stays readable without any index object or the
 * service database. By default only packs no index names are read; `all`
 * rewrites one fresh index for every readable pack and drops the old objects.
 */
import { BlobNotFoundError } from "@tidemark/storage";
import { CorruptionError } from "../errors";
import { parseTrailer } from "../pack/reader";
import type { Repository } from "../repository";
import type { IndexedPack } from "./index";
import { mapLimit, writeIndexObject } from "./repo-index";

export interface RebuildReport {
  packsRead: number;
  indexed: number;
  /** Packs whose trailer could not be read: their chunks stay unindexed (check reports what they hold). */
  unreadable: Array<{ pack: string; reason: string }>;
  indexObjectsRemoved: number;
}

export async function rebuildIndex(repo: Repository, opts: { all?: boolean } = {}): Promise<RebuildReport> {
  await repo.index.reload();
  const packs: string[] = [];
  for await (const m of repo.store.list("data/")) {
    const id = m.key.slice(m.key.lastIndexOf("/") + 1);
    if (opts.all || !repo.index.packInfo(id)) packs.push(id);
  }
  const report: RebuildReport = { packsRead: 0, indexed: 0, unreadable: [], indexObjectsRemoved: 0 };
  const found: IndexedPack[] = [];
  await mapLimit(packs, 4, async (id) => {
    let bytes: Buffer;
    try {
      bytes = await repo.store.get(`data/${id.slice(0, 2)}/${id}`);
    } catch (e) {
      if (e instanceof BlobNotFoundError) return;
      throw e;
    }
    report.packsRead++;
    try {
      const p = parseTrailer(repo.keys, id, bytes);
      found.push({ id, salt: p.salt, size: bytes.length, blobs: p.blobs });
    } catch (e) {
      report.unreadable.push({ pack: id, reason: e instanceof CorruptionError ? e.message : String(e) });
    }
  });
  if (found.length === 0) return report;
  const old = [...repo.index.objects];
  const written = await writeIndexObject(repo.store, repo.keys, found);
  report.indexed = found.length;
  if (opts.all) {
    // The new object covers every readable pack: the old ones are redundant (written first, deleted after).
    for (const o of old) if (o !== written) await repo.store.delete(o);
    report.indexObjectsRemoved = old.length;
  }
  await repo.index.reload();
  return report;
}
