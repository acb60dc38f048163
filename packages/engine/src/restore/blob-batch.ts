/**
 * Reading many blobs at once: group them by pack and coalesce neighbours into
 * ranged GETs (one request per run instead of one per blob). Used for file
 * data, directory listings (trees, level by level) and volume blocks.
 */
import { BlobNotFoundError } from "@tidemark/storage";
import { CorruptionError } from "../errors";
import type { IndexEntry } from "../index/index";
import { mapLimit } from "../index/repo-index";
import { packKeyName, type BlobType } from "../pack/format";
import { openBlob } from "../pack/reader";
import type { Repository } from "../repository";

/** Coalesced reads stay below this many bytes. */
export const RUN_BYTES = 16 * 1024 * 1024;
/** Reading a small gap is cheaper than another request. */
export const MAX_GAP = 256 * 1024;

export interface Located {
  id: string;
  e: IndexEntry;
}

/**
 * Blobs grouped by pack, sorted by offset, cut into runs of ≤ maxRun bytes with gaps ≤ maxGap
 * and ≤ maxRaw bytes of plaintext (a single blob larger than a limit is a run of its own).
 */
export function coalesce(blobs: Iterable<Located>, maxGap = MAX_GAP, maxRun = RUN_BYTES, maxRaw = Infinity): Located[][] {
  const byPack = new Map<string, Located[]>();
  for (const b of blobs) {
    let l = byPack.get(b.e.pack);
    if (!l) byPack.set(b.e.pack, (l = []));
    l.push(b);
  }
  const runs: Located[][] = [];
  for (const list of byPack.values()) {
    list.sort((a, b) => a.e.offset - b.e.offset);
    let run: Located[] = [];
    let raw = 0;
    for (const b of list) {
      const first = run[0];
      const last = run.at(-1);
      if (first && last && (b.e.offset - (last.e.offset + last.e.length) > maxGap || b.e.offset + b.e.length - first.e.offset > maxRun || raw + b.e.rawLength > maxRaw)) {
        runs.push(run);
        run = [];
        raw = 0;
      }
      run.push(b);
      raw += b.e.rawLength;
    }
    if (run.length) runs.push(run);
  }
  return runs;
}

/** The sealed bytes of one run: [first blob's offset, end of the last). */
export function readRunBytes(repo: Repository, run: Located[]): Promise<Buffer> {
  const start = run[0]!.e.offset;
  const last = run.at(-1)!.e;
  return repo.store.get(packKeyName(run[0]!.e.pack), { offset: start, length: last.offset + last.length - start });
}

/**
 * Reads and verifies every blob in `ids` (each once), calling `onBlob` with
 * its plaintext or with the error that names pack and chunk — the same errors
 * `Repository.readBlob` gives. Runs are read `concurrency` at a time; `onBlob`
 * is awaited, so a slow consumer throttles reading.
 */
export async function readBlobs(
  repo: Repository,
  ids: Iterable<string>,
  expectType: BlobType,
  onBlob: (id: string, result: Buffer | Error) => void | Promise<void>,
  concurrency = 8,
): Promise<void> {
  // A copy that fails verification is not the last word: another stored copy may be whole.
  const deliver = async (id: string, result: Buffer | Error) =>
    onBlob(id, result instanceof CorruptionError && repo.index.alternates?.(id).length ? await repo.readAlternate(id, expectType, result).catch((e: Error) => e) : result);
  const located: Located[] = [];
  for (const id of new Set(ids)) {
    const e = repo.index.lookup(id);
    if (!e) await onBlob(id, new CorruptionError(`chunk ${id} is not in the index`, undefined, id));
    else if (e.type !== expectType) await onBlob(id, new CorruptionError(`chunk ${id} has the wrong blob type`, e.pack, id));
    else located.push({ id, e });
  }
  await mapLimit(coalesce(located), concurrency, async (run) => {
    const pack = run[0]!.e.pack;
    const start = run[0]!.e.offset;
    let bytes: Buffer | undefined;
    let readError: (id: string) => Error;
    try {
      bytes = await readRunBytes(repo, run);
    } catch (err) {
      readError = (id) => (err instanceof BlobNotFoundError ? new CorruptionError(`pack ${pack} is missing (needed for chunk ${id})`, pack, id) : (err as Error));
    }
    const info = repo.index.packInfo(pack)!;
    const key = repo.packKey(pack, info.salt);
    for (const { id, e } of run) {
      if (!bytes) {
        await deliver(id, readError!(id));
        continue;
      }
      const rel = e.offset - start;
      if (rel + e.length > bytes.length) {
        await deliver(id, new CorruptionError(`pack ${pack}: chunk ${id} is truncated`, pack, id));
        continue;
      }
      let data: Buffer | Error;
      try {
        data = openBlob(repo.keys, pack, key, { type: e.type, id: Buffer.from(id, "hex"), offset: e.offset }, bytes.subarray(rel, rel + e.length));
      } catch (x) {
        data = x as Error;
      }
      await deliver(id, data);
    }
  });
}
