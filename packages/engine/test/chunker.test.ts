import { describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FastCdc, gearTable } from "../src/chunker/fastcdc";
import { isAllZero, readBlocks } from "../src/chunker/fixed";
import { tempDir } from "./helpers";

const params = { min: 2048, avg: 8192, max: 65536 };
const cdc = new FastCdc(gearTable(Buffer.alloc(32, 7)), params);

async function cut(data: Buffer, pieceSize = 10_000): Promise<Buffer[]> {
  async function* pieces() {
    for (let i = 0; i < data.length; i += pieceSize) yield data.subarray(i, i + pieceSize);
  }
  const out: Buffer[] = [];
  for await (const c of cdc.chunks(pieces())) out.push(Buffer.from(c));
  return out;
}

describe("FastCDC", () => {
  it("reassembles exactly, respects min/max, and does not depend on read sizes", async () => {
    const data = randomBytes(1_000_000);
    const a = await cut(data, 7_001);
    const b = await cut(data, 200_000);
    expect(Buffer.concat(a).equals(data)).toBe(true);
    expect(a.map((c) => c.length)).toEqual(b.map((c) => c.length));
    for (const c of a.slice(0, -1)) {
      expect(c.length).toBeGreaterThanOrEqual(params.min);
      expect(c.length).toBeLessThanOrEqual(params.max);
    }
    const mean = data.length / a.length;
    // Normalized chunking keeps the mean near the target average.
    expect(mean).toBeGreaterThan(params.avg * 0.6);
    expect(mean).toBeLessThan(params.avg * 1.6);
  });

  it("keeps boundaries stable after an insertion: only chunks near the edit change", async () => {
    const data = randomBytes(800_000);
    const edited = Buffer.concat([data.subarray(0, 400_000), Buffer.from("INSERTED BYTES"), data.subarray(400_000)]);
    const before = new Set((await cut(data)).map((c) => c.toString("base64")));
    const after = await cut(edited);
    const changed = after.filter((c) => !before.has(c.toString("base64")));
    expect(changed.length).toBeGreaterThan(0);
    expect(changed.length).toBeLessThanOrEqual(3);
  });

  it("uses a key-derived gear table: other keys cut elsewhere", async () => {
    const data = randomBytes(300_000);
    const other = new FastCdc(gearTable(Buffer.alloc(32, 8)), params);
    const lens = async (c: FastCdc) => {
      const out: number[] = [];
      async function* one() {
        yield data;
      }
      for await (const x of c.chunks(one())) out.push(x.length);
      return out;
    };
    expect(await lens(cdc)).not.toEqual(await lens(other));
  });

  it("handles empty and tiny input", async () => {
    expect(await cut(Buffer.alloc(0))).toEqual([]);
    expect((await cut(Buffer.from("abc"))).map(String)).toEqual(["abc"]);
  });

  it("rejects nonsensical parameters", () => {
    expect(() => new FastCdc(gearTable(Buffer.alloc(32)), { min: 100, avg: 1000, max: 5000 })).toThrow(/power of two/);
    expect(() => new FastCdc(gearTable(Buffer.alloc(32)), { min: 4096, avg: 4096, max: 8192 })).toThrow(/min < avg/);
  });
});

describe("fixed blocks", () => {
  it("splits an image into aligned blocks, flags zero blocks, tail block short", async () => {
    const t = await tempDir();
    try {
      const bs = 4096;
      const img = Buffer.concat([randomBytes(bs), Buffer.alloc(bs), randomBytes(100)]);
      await writeFile(join(t.dir, "img"), img);
      const blocks = [];
      for await (const b of readBlocks(join(t.dir, "img"), bs)) blocks.push({ ...b, data: Buffer.from(b.data) });
      expect(blocks.map((b) => [b.index, b.data.length, b.zero])).toEqual([
        [0, bs, false],
        [1, bs, true],
        [2, 100, false],
      ]);
      expect(Buffer.concat(blocks.map((b) => b.data)).equals(img)).toBe(true);
      expect(blocks[0]!.fast).not.toBe(blocks[2]!.fast);
    } finally {
      await t.cleanup();
    }
  });

  it("isAllZero works at unaligned offsets", () => {
    const b = Buffer.alloc(100);
    expect(isAllZero(b.subarray(3))).toBe(true);
    b[99] = 1;
    expect(isAllZero(b.subarray(3))).toBe(false);
  });
});
