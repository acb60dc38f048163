/**
 * Index stored as objects under `index/` in the repository itself, so the
 * repository is readable and checkable without the service database.
 * Concurrent writers never conflict: each writes only its own new, uniquely
 * named index objects, and readers merge all of them.
 */
import { createHash } from "node:crypto";
import type { BlobStore } from "@tidemark/storage";
import { openObject, sealObject } from "../crypto/aead";
import type { RepoKeys } from "../crypto/keys";
import { compressJson, expandJson } from "../json-object";
import { toHex } from "../id";
import { CorruptionError } from "../errors";
import { BLOB_DATA, BLOB_TREE } from "../pack/format";
import { ChunkTable, type ChunkFields } from "./chunk-table";
import type { Index, IndexedPack, IndexEntry, PackInfo } from "./index";

/** [type, id hex, offset, length, rawLength] — arrays keep large indexes compact. */
type BlobRow = [typeof BLOB_DATA | typeof BLOB_TREE, string, number, number, number];
interface IndexObject {
  v: 1;
  packs: Array<{ id: string; salt: string; size: number; blobs: BlobRow[] }>;
}

/**
 * Checks a decoded index object by hand: every CLI run loads every index object,
 * and zod took ~60 ms of a ~2 s second backup for 50k entries (a tuple schema per
 * blob). Same rules as the zod schema it replaces (unknown keys are ignored).
 */
export function parseIndexObject(value: unknown, name: string): IndexObject {
  const bad = (where: string, what: string): never => {
    throw new CorruptionError(`index object ${name} is malformed: ${where}: ${what}`);
  };
  const isInt = (x: unknown): x is number => typeof x === "number" && Number.isInteger(x);
  if (typeof value !== "object" || value === null || Array.isArray(value)) return bad("(root)", "not an object");
  const o = value as Record<string, unknown>;
  if (o.v !== 1) bad("v", `unsupported version ${JSON.stringify(o.v)}`);
  if (!Array.isArray(o.packs)) return bad("packs", "not an array");
  const packs: IndexObject["packs"] = [];
  o.packs.forEach((p: unknown, i) => {
    if (typeof p !== "object" || p === null || Array.isArray(p)) return bad(`packs[${i}]`, "not an object");
    const { id, salt, size, blobs } = p as Record<string, unknown>;
    if (typeof id !== "string" || id.length !== 64 || !isLowerHex(id)) bad(`packs[${i}].id`, "not 64 lowercase hex digits");
    if (typeof salt !== "string") bad(`packs[${i}].salt`, "not a string");
    if (!isInt(size) || size < 0) bad(`packs[${i}].size`, "not a byte count");
    if (!Array.isArray(blobs)) return bad(`packs[${i}].blobs`, "not an array");
    for (let j = 0; j < blobs.length; j++) {
      const b: unknown = blobs[j];
      if (
        !Array.isArray(b) ||
        b.length !== 5 ||
        (b[0] !== BLOB_DATA && b[0] !== BLOB_TREE) ||
        typeof b[1] !== "string" ||
        typeof b[2] !== "number" ||
        typeof b[3] !== "number" ||
        typeof b[4] !== "number"
      ) {
        bad(`packs[${i}].blobs[${j}]`, "not [type 0|1, id, offset, length, rawLength]");
      }
    }
    packs.push({ id: id as string, salt: salt as string, size: size as number, blobs: blobs as BlobRow[] });
  });
  return { v: 1, packs };
}

/** 64 lowercase hex digits is what an id looks like everywhere (a regex per entry cost more). */
function isLowerHex(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

export const INDEX_PREFIX = "index/";

export class RepoIndex implements Index {
  /** Chunk entries, compact (see chunk-table.ts); `pack` fields are numbers into packIds. */
  private readonly table = new ChunkTable();
  private readonly packIds: string[] = [];
  private readonly packNos = new Map<string, number>();
  private readonly packMap = new Map<string, PackInfo>();
  private pending: IndexedPack[] = [];
  /** Ids the caller no longer trusts (found corrupt elsewhere): not usable until this process stores them again. */
  private readonly distrusted = new Set<string>();
  /**
   * Every other copy of a chunk, keyed by id (rare: racing writers, self-heal
   * re-uploads), so a reader whose chosen copy fails can try the next. Which
   * copy loads first depends on index object names, so it may be the bad one.
   */
  private readonly others = new Map<string, IndexEntry[]>();
  /** Index objects this process has seen (loaded or written): prune rewrites exactly these. */
  readonly objects = new Set<string>();

  constructor(
    private readonly store: BlobStore,
    private readonly keys: RepoKeys,
    /** Packs condemned by prune (shared with the repository): never chosen when another copy exists. */
    private readonly condemned: ReadonlySet<string> = new Set(),
  ) {}

  static async load(store: BlobStore, keys: RepoKeys, condemned?: ReadonlySet<string>): Promise<RepoIndex> {
    const idx = new RepoIndex(store, keys, condemned);
    await idx.reload();
    return idx;
  }

  /** Merges index objects written since the last load (e.g. by a concurrent writer). */
  async reload(): Promise<void> {
    const names: string[] = [];
    for await (const m of this.store.list(INDEX_PREFIX)) if (!this.objects.has(m.key)) names.push(m.key);
    await mapLimit(names, 8, async (name) => {
      const obj = parseIndexObject(expandJson(openObject(this.keys.enc, "index", await this.store.get(name), name)), name);
      this.merge(obj);
      this.objects.add(name);
    });
  }

  private merge(obj: IndexObject) {
    for (const p of obj.packs) {
      this.packMap.set(p.id, { id: p.id, salt: Buffer.from(p.salt, "base64"), size: p.size });
      const pack = this.packNo(p.id);
      for (const [type, id, offset, length, rawLength] of p.blobs) {
        const e = this.table.findHex(id);
        const f = { pack, type, offset, length, rawLength };
        if (e >= 0) {
          this.keepBoth(e, id, f, this.better(e, p.id));
        } else if (id.length === 64 && isLowerHex(id)) {
          this.table.insertProbed(f);
        }
      }
    }
  }

  /** A second copy of entry `e`: it becomes the chosen one when `prefer`, the other is kept as an alternate. */
  private keepBoth(e: number, id: string, f: ChunkFields, prefer: boolean): void {
    const current = this.table.get(e);
    if (current.pack === f.pack && current.offset === f.offset) return; // the same copy listed again
    const demoted = prefer ? current : f;
    const promoted = this.fieldsEntry(prefer ? f : current);
    const entry = this.fieldsEntry(demoted);
    const list = (this.others.get(id) ?? []).filter((x) => !(x.pack === promoted.pack && x.offset === promoted.offset));
    if (prefer) this.table.update(e, f);
    if (!list.some((x) => x.pack === entry.pack && x.offset === entry.offset)) list.push(entry);
    // Condemned copies last: they are read only when nothing else is left.
    list.sort((a, b) => Number(this.condemned.has(a.pack)) - Number(this.condemned.has(b.pack)));
    this.others.set(id, list);
  }

  alternates(id: string): IndexEntry[] {
    return this.others.get(id) ?? [];
  }

  /** Every stored copy of `id`, the chosen one first; empty when it is not indexed. */
  copies(id: string): IndexEntry[] {
    const e = this.lookup(id);
    return e ? [e, ...this.alternates(id)] : [];
  }

  private packNo(id: string): number {
    let n = this.packNos.get(id);
    if (n === undefined) {
      n = this.packIds.push(id) - 1;
      this.packNos.set(id, n);
    }
    return n;
  }

  /** Whether a copy in `pack` should replace entry `e`: only a copy that is not condemned replaces one that is. */
  private better(e: number, pack: string): boolean {
    return this.condemned.has(this.packIds[this.table.packOf(e)]!) && !this.condemned.has(pack);
  }

  private entry(e: number): IndexEntry {
    return this.fieldsEntry(this.table.get(e));
  }

  private fieldsEntry(f: ChunkFields): IndexEntry {
    return { pack: this.packIds[f.pack]!, type: f.type, offset: f.offset, length: f.length, rawLength: f.rawLength };
  }

  /** Indexed in a pack that is not condemned, and not distrusted: safe to deduplicate against. */
  usable(id: string): boolean {
    const e = this.table.findHex(id);
    return e >= 0 && !this.condemned.has(this.packIds[this.table.packOf(e)]!) && !(this.distrusted.size > 0 && this.distrusted.has(id));
  }

  /**
   * Treat these ids as not stored even though the index has them (the service
   * found their stored copies corrupt): backups read and upload them again, and
   * unchanged files that reference them are re-read. Lasts until a pack holding
   * a fresh copy is added; that copy then replaces the old entry.
   */
  distrust(ids: Iterable<string>): void {
    for (const id of ids) this.distrusted.add(id);
  }

  lookup(id: string): IndexEntry | undefined {
    const e = this.table.findHex(id);
    return e >= 0 ? this.entry(e) : undefined;
  }
  has(id: string) {
    return this.table.findHex(id) >= 0;
  }
  packInfo(packId: string) {
    return this.packMap.get(packId);
  }
  packs() {
    return this.packMap.values();
  }
  *entries(): IterableIterator<[string, IndexEntry]> {
    for (let e = 0; e < this.table.count; e++) yield [this.table.idHex(e), this.entry(e)];
  }
  get size() {
    return this.table.count;
  }
  /** Memory held by the chunk entries (bytes). */
  get tableBytes() {
    return this.table.bytes;
  }

  addPacks(packs: IndexedPack[]): void {
    for (const p of packs) {
      this.packMap.set(p.id, { id: p.id, salt: p.salt, size: p.size });
      const pack = this.packNo(p.id);
      for (const b of p.blobs) {
        const e = this.table.find(b.id);
        const f = { pack, type: b.type, offset: b.offset, length: b.length, rawLength: b.rawLength };
        if (e < 0) this.table.insertProbed(f);
        else {
          const hex = toHex(b.id);
          this.keepBoth(e, hex, f, (this.distrusted.size > 0 && this.distrusted.delete(hex)) || this.better(e, p.id));
        }
      }
      this.pending.push(p);
    }
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    try {
      this.objects.add(await writeIndexObject(this.store, this.keys, batch));
    } catch (e) {
      this.pending = batch.concat(this.pending);
      throw e;
    }
  }
}

export async function writeIndexObject(store: BlobStore, keys: RepoKeys, packs: IndexedPack[]): Promise<string> {
  const obj: IndexObject = {
    v: 1,
    packs: packs.map((p) => ({
      id: p.id,
      salt: p.salt.toString("base64"),
      size: p.size,
      blobs: p.blobs.map((b): BlobRow => [b.type, toHex(b.id), b.offset, b.length, b.rawLength]),
    })),
  };
  const sealed = sealObject(keys.enc, "index", compressJson(obj));
  const name = INDEX_PREFIX + createHash("sha256").update(sealed).digest("hex");
  await store.put(name, sealed, { ifNotExists: true });
  return name;
}

export async function mapLimit<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
