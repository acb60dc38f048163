import { describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { deriveKeys, newMasterKey } from "../src/crypto/keys";
import { contentId } from "../src/id";
import { COMPRESSION_NONE, COMPRESSION_ZSTD, expand, maybeCompress } from "../src/compress";
import { PackWriter } from "../src/pack/writer";
import { openBlob, parsePack } from "../src/pack/reader";
import { BLOB_DATA, BLOB_TREE } from "../src/pack/format";
import { CorruptionError } from "../src/errors";
import { textBytes } from "./helpers";

describe("compression", () => {
  it("compresses text, skips random data, round-trips both", () => {
    const text = textBytes(300_000);
    const rnd = randomBytes(300_000);
    const a = maybeCompress(text);
    const b = maybeCompress(rnd);
    expect(a.flag).toBe(COMPRESSION_ZSTD);
    expect(a.payload.length).toBeLessThan(text.length / 2);
    expect(b.flag).toBe(COMPRESSION_NONE);
    expect(expand(a.flag, a.payload).equals(text)).toBe(true);
    expect(expand(b.flag, b.payload).equals(rnd)).toBe(true);
    expect(() => expand(9, Buffer.alloc(1))).toThrow(/unknown compression/);
  });
});

describe("packs", () => {
  const keys = deriveKeys(newMasterKey());

  function build() {
    const w = new PackWriter(keys.enc);
    const blobs = [textBytes(50_000, 3), randomBytes(20_000), Buffer.from('{"v":1,"nodes":[]}')];
    blobs.forEach((b, i) => w.add(i === 2 ? BLOB_TREE : BLOB_DATA, contentId(keys.id, b), b, 1));
    return { pack: w.finish(), blobs };
  }

  it("is self-describing: the trailer lists every blob and each blob opens and verifies", () => {
    const { pack, blobs } = build();
    const parsed = parsePack(keys, pack.id, pack.bytes);
    expect(parsed.blobs.length).toBe(3);
    parsed.blobs.forEach((b, i) => {
      const data = openBlob(keys, pack.id, parsed.key, b, pack.bytes.subarray(b.offset, b.offset + b.length));
      expect(data.equals(blobs[i]!)).toBe(true);
      expect(b.rawLength).toBe(blobs[i]!.length);
    });
    expect(parsed.blobs[2]!.type).toBe(BLOB_TREE);
    expect(pack.bytes.length).toBeLessThan(50_000 + 20_000 + 1000);
  });

  it("a writer given a stored pack's buffer writes a valid pack into it (the stored copy is not touched)", () => {
    const { pack: first, blobs } = build();
    const stored = Buffer.from(first.bytes);
    expect(first.backing.length).toBeGreaterThanOrEqual(first.bytes.length);
    const w = new PackWriter(keys.enc, 64 * 1024, first.backing);
    const other = textBytes(30_000, 11);
    w.add(BLOB_DATA, contentId(keys.id, other), other, 1);
    const second = w.finish();
    expect(second.backing).toBe(first.backing);
    expect(second.salt.equals(first.salt)).toBe(false);
    const parsed = parsePack(keys, second.id, second.bytes);
    expect(parsed.blobs.length).toBe(1);
    const b = parsed.blobs[0]!;
    expect(openBlob(keys, second.id, parsed.key, b, second.bytes.subarray(b.offset, b.offset + b.length)).equals(other)).toBe(true);
    // The first pack, as stored before its buffer was handed on, still opens.
    expect(parsePack(keys, first.id, stored).blobs.length).toBe(blobs.length);
    // A buffer too small for the size hint is not used.
    expect(new PackWriter(keys.enc, 128 * 1024, Buffer.alloc(1000)).finish().backing.length).toBeGreaterThanOrEqual(128 * 1024);
  });

  it("names the pack when a bit flips or the pack is truncated", () => {
    const { pack } = build();
    const flipped = Buffer.from(pack.bytes);
    flipped[100]! ^= 0x10;
    expect(() => parsePack(keys, pack.id, flipped)).toThrow(new RegExp(`pack ${pack.id}`));
    expect(() => parsePack(keys, pack.id, pack.bytes.subarray(0, pack.bytes.length - 10))).toThrow(CorruptionError);
    // A flipped bit inside one blob fails that blob only (names pack and chunk).
    const parsed = parsePack(keys, pack.id, pack.bytes);
    const b = parsed.blobs[0]!;
    expect(() => openBlob(keys, pack.id, parsed.key, b, flipped.subarray(b.offset, b.offset + b.length))).toThrow(/failed authentication/);
    const b1 = parsed.blobs[1]!;
    expect(openBlob(keys, pack.id, parsed.key, b1, flipped.subarray(b1.offset, b1.offset + b1.length)).length).toBe(20_000);
  });

  it("fails verification when the content does not match the id", () => {
    const w = new PackWriter(keys.enc);
    const lie = contentId(keys.id, Buffer.from("something else"));
    w.add(BLOB_DATA, lie, Buffer.from("actual"), 1);
    const pack = w.finish();
    const parsed = parsePack(keys, pack.id, pack.bytes);
    const b = parsed.blobs[0]!;
    expect(() => openBlob(keys, pack.id, parsed.key, b, pack.bytes.subarray(b.offset, b.offset + b.length))).toThrow(/does not match its id/);
  });

  it("other repositories' keys cannot read the pack", () => {
    const { pack } = build();
    expect(() => parsePack(deriveKeys(newMasterKey()), pack.id, pack.bytes)).toThrow(/trailer failed authentication/);
  });
});
