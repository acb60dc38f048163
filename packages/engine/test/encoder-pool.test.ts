import { describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { EncoderPool, type FileResult } from "../src/backup/encoder-pool";
import type { EncodeParams } from "../src/backup/encode-core";
import { DEFAULT_CHUNKER, gearTable } from "../src/chunker/fastcdc";
import { gzipSync } from "node:zlib";
import { COMPRESSION_NONE, COMPRESSION_ZSTD, expand, looksCompressed } from "../src/compress";
import { contentId } from "../src/id";
import { tempDir, textBytes } from "./helpers";

const params: EncodeParams = { idKey: Buffer.alloc(32, 3), gear: gearTable(Buffer.alloc(32, 9)), chunker: DEFAULT_CHUNKER, zstdLevel: 2 };

/** Every chunk as (file, id, flag, plaintext), copied out while its payload is valid. */
async function encodeAll(pool: EncoderPool, files: Array<{ path: string; size: number }>) {
  const chunks: Array<{ file: number; id: string; flag: number; plain: Buffer }> = [];
  const results: FileResult[] = await pool.encode(files, async (file, c) => {
    const plain = Buffer.from(expand(c.compressed.flag, c.compressed.payload));
    expect(plain.length).toBe(c.rawLength);
    chunks.push({ file, id: c.id, flag: c.compressed.flag, plain });
  });
  return { chunks, results };
}

describe("encoder pool (worker batches: in-place records, recycled buffers)", () => {
  it("matches in-thread encoding for small, large, incompressible, max-size and unreadable files", async () => {
    const src = await tempDir();
    const worker = new EncoderPool(params, 1);
    const here = new EncoderPool(params, 0);
    try {
      const files: Array<{ path: string; size: number }> = [];
      const add = async (name: string, data: Buffer) => {
        await writeFile(join(src.dir, name), data);
        files.push({ path: join(src.dir, name), size: data.length });
      };
      for (let i = 0; i < 300; i++) await add(`small-${i}`, textBytes(100 + i * 37, i + 1));
      // Zeros never meet the cut mask: 8 MiB (max) chunks, whose worst case exceeds a batch buffer.
      await add("zeros", Buffer.alloc(20 * 1024 * 1024));
      await add("random", randomBytes(5 * 1024 * 1024));
      await add("text", textBytes(6 * 1024 * 1024, 7));
      files.push({ path: join(src.dir, "missing"), size: 10 });
      await add("empty", Buffer.alloc(0));
      // Already-compressed formats are stored raw without trying; text with the same bytes further in is not.
      await add("doc.gz", gzipSync(textBytes(50_000, 3)));
      await add("late-magic", Buffer.concat([textBytes(20_000, 4), Buffer.from([0x1f, 0x8b]), textBytes(20_000, 5)]));

      const a = await encodeAll(worker, files);
      const b = await encodeAll(here, files);
      expect(a.results).toEqual(b.results);
      expect(a.chunks.map((c) => [c.file, c.id, c.flag])).toEqual(b.chunks.map((c) => [c.file, c.id, c.flag]));
      expect(a.results[303]).toEqual({ error: "ENOENT" });
      for (const c of a.chunks) expect(contentId(params.idKey, c.plain).toString("hex")).toBe(c.id);
      const zeros = a.chunks.filter((c) => c.file === 300);
      expect(zeros.map((c) => c.plain.length)).toEqual([8, 8, 4].map((m) => m * 1024 * 1024));
      expect(zeros.every((c) => c.flag === COMPRESSION_ZSTD)).toBe(true);
      expect(a.chunks.filter((c) => c.file === 301).every((c) => c.flag === COMPRESSION_NONE)).toBe(true);
      expect(a.chunks.filter((c) => c.file === 305).map((c) => c.flag)).toEqual([COMPRESSION_NONE]);
      expect(a.chunks.filter((c) => c.file === 306).map((c) => c.flag)).toEqual([COMPRESSION_ZSTD]);
      expect(looksCompressed(gzipSync("x"))).toBe(true);
      expect(looksCompressed(Buffer.from("plain text"))).toBe(false);
      expect(looksCompressed(Buffer.from([0x1f]))).toBe(false);

      // In-thread calls made at once run one after another (one read buffer at a time), same results.
      const concurrent = await Promise.all([encodeAll(here, files.slice(0, 150)), encodeAll(here, files.slice(150))]);
      expect(concurrent.flatMap((r) => r.results)).toEqual(b.results);
      await expect(here.ready()).resolves.toBeUndefined();

      // A second round reuses the recycled batch buffers; results must not change.
      const again = await encodeAll(worker, files);
      expect(again.chunks.map((c) => c.id)).toEqual(a.chunks.map((c) => c.id));
      expect(Buffer.concat(again.chunks.map((c) => c.plain)).equals(Buffer.concat(a.chunks.map((c) => c.plain)))).toBe(true);
    } finally {
      await worker.close();
      await src.cleanup();
    }
  });

  it("leaves compression to the main thread while it has nothing else of the worker's; `known` chunks are not compressed there", async () => {
    const src = await tempDir();
    const pool = new EncoderPool(params, 1);
    try {
      const body = textBytes(200_000, 5);
      await writeFile(join(src.dir, "a"), body);
      const file = [{ path: join(src.dir, "a"), size: body.length }];
      // A fresh pool's first chunk is posted while nothing is outstanding: the main thread compresses it.
      const first = await encodeAll(pool, file);
      expect(pool.mainCompressed).toBe(1);
      expect(first.chunks.map((c) => c.flag)).toEqual([COMPRESSION_ZSTD]);
      expect(first.chunks[0]!.plain.equals(body)).toBe(true);
      // The same chunk, said to be stored already: handed over as plaintext, not compressed.
      const seen: number[] = [];
      const results = await pool.encode(
        file,
        async (_f, c) => {
          seen.push(c.compressed.flag);
          expect(c.compressed.payload.equals(body)).toBe(true);
        },
        { known: (id) => id === first.chunks[0]!.id },
      );
      expect(results).toEqual([{ ids: [first.chunks[0]!.id], bytes: body.length }]);
      expect(seen).toEqual([COMPRESSION_NONE]);
      expect(pool.mainCompressed).toBe(1);
    } finally {
      await pool.close();
      await src.cleanup();
    }
  });
});
