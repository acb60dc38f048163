import { describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { MemoryBlobStore } from "@tidemark/storage";
import { ChunkTable } from "../src/index/chunk-table";
import { RepoIndex } from "../src/index/repo-index";
import { deriveKeys, newMasterKey } from "../src/crypto/keys";
import type { IndexedPack } from "../src/index/index";

describe("compact chunk table", () => {
  it("finds every id after growing far past its first capacity; misses stay misses", () => {
    const t = new ChunkTable(16);
    const ids = Array.from({ length: 50_000 }, () => randomBytes(32));
    ids.forEach((id, i) => {
      expect(t.find(id)).toBe(-1);
      expect(t.insertProbed({ pack: i % 7, type: (i % 2) as 0 | 1, offset: i, length: i * 3, rawLength: 2 ** 32 - 1 - i })).toBe(i);
    });
    expect(t.count).toBe(ids.length);
    for (let i = 0; i < ids.length; i += 97) {
      expect(t.find(ids[i]!)).toBe(i);
      expect(t.findHex(ids[i]!.toString("hex"))).toBe(i);
      expect(t.idHex(i)).toBe(ids[i]!.toString("hex"));
      expect(t.get(i)).toEqual({ pack: i % 7, type: i % 2, offset: i, length: i * 3, rawLength: 2 ** 32 - 1 - i });
    }
    // Same first 4 bytes (same home slot), different id: probing must compare all 32 bytes.
    const twin = Buffer.from(ids[5]!);
    twin[31]! ^= 1;
    expect(t.find(twin)).toBe(-1);
    for (const bad of ["", "zz".repeat(32), ids[0]!.toString("hex").slice(2), ids[0]!.toString("hex") + "00"]) expect(t.findHex(bad)).toBe(-1);
    expect(t.bytes).toBeLessThan(ids.length * 120);
  });
});

describe("RepoIndex on the compact table", () => {
  const keys = deriveKeys(newMasterKey());
  const pack = (id: string, blobs: Buffer[], offset = 40): IndexedPack => ({ id, salt: randomBytes(32), size: 1000, blobs: blobs.map((b, i) => ({ type: 0, id: b, offset: offset + i * 10, length: 10, rawLength: 20 })) });

  it("keeps a Map's semantics: first copy wins unless condemned, insertion order, reload from objects", async () => {
    const store = new MemoryBlobStore();
    const condemned = new Set<string>();
    const idx = new RepoIndex(store, keys, condemned);
    const [a, b, c] = [randomBytes(32), randomBytes(32), randomBytes(32)];
    const p1 = "11".repeat(32);
    const p2 = "22".repeat(32);
    const p3 = "33".repeat(32);
    idx.addPacks([pack(p1, [a, b])]);
    idx.addPacks([pack(p2, [b, c], 500)]);
    expect(idx.lookup(b.toString("hex"))).toEqual({ pack: p1, type: 0, offset: 50, length: 10, rawLength: 20 });
    expect([...idx.entries()].map(([id]) => id)).toEqual([a, b, c].map((x) => x.toString("hex")));
    condemned.add(p1);
    expect(idx.usable(a.toString("hex"))).toBe(false);
    expect(idx.has(a.toString("hex"))).toBe(true);
    idx.addPacks([pack(p3, [a], 900)]);
    expect(idx.lookup(a.toString("hex"))!.pack).toBe(p3);
    expect(idx.usable(a.toString("hex"))).toBe(true);
    expect(idx.lookup("00".repeat(32))).toBeUndefined();
    await idx.flush();

    const again = await RepoIndex.load(store, keys, condemned);
    expect(again.size).toBe(3);
    expect(again.lookup(a.toString("hex"))!.pack).toBe(p3);
    expect(again.lookup(c.toString("hex"))).toEqual({ pack: p2, type: 0, offset: 510, length: 10, rawLength: 20 });
    expect(new Set([...again.packs()].map((p) => p.id))).toEqual(new Set([p1, p2, p3]));
  });
});
