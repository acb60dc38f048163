/**
 * The folder-download ZIP writer, checked by independent readers (Python's
 * zipfile and Info-ZIP's unzip): classic archives stay classic; more than
 * 65 535 entries and a > 4 GiB entry produce valid ZIP64 (64-bit data
 * descriptors, zip64 extra fields, ZIP64 end record + locator). The 4 GiB
 * archive is written sparse: runs of zeros become holes, so it costs a few
 * MiB of disk while the readers still read and CRC every byte.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, open, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ZipEntry, ZipLimitError, zipStream } from "../src/zip";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tm-zip-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const mtime = new Date("2026-03-04T05:06:08Z");

async function* bytes(...parts: Buffer[]) {
  for (const p of parts) yield p;
}
async function* list(entries: ZipEntry[] | (() => Generator<ZipEntry>)) {
  yield* Array.isArray(entries) ? entries : entries();
}

const ZEROS = Buffer.alloc(1024 * 1024);
/** Writes the stream to `file`, skipping all-zero chunks (holes) so large zero runs take no disk. */
async function writeSparse(file: string, stream: AsyncIterable<Buffer>): Promise<number> {
  const fh = await open(file, "w");
  let pos = 0;
  try {
    for await (const b of stream) {
      const hole = b.length >= 65536 && b.length <= ZEROS.length && b.equals(ZEROS.subarray(0, b.length));
      if (!hole) await fh.write(b, 0, b.length, pos);
      pos += b.length;
    }
    await fh.truncate(pos);
  } finally {
    await fh.close();
  }
  return pos;
}

const py = (code: string, ...args: string[]) => execFileSync("python3", ["-c", code, ...args], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });

/** Python's view: entry count, and the first bad member (None when every CRC matches). */
function pythonCheck(file: string): { count: number; bad: string | null; zip64End: boolean } {
  return JSON.parse(
    py(
      `import json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
data = open(sys.argv[1], 'rb')
data.seek(-22 - 20 - 56, 2)
tail = data.read()
print(json.dumps({"count": len(z.infolist()), "bad": z.testzip(), "zip64End": b"PK\\x06\\x06" in tail and b"PK\\x06\\x07" in tail}))`,
      file,
    ),
  );
}

describe("zipStream", () => {
  it("a small folder is classic ZIP (version 2.0, no ZIP64 records) that both readers accept, byte for byte", async () => {
    const a = randomBytes(300_000);
    const b = Buffer.from("héllo wörld\n");
    const file = join(dir, "small.zip");
    await writeSparse(
      file,
      zipStream(
        list([
          { type: "dir", path: "docs", mtime },
          { type: "file", path: "docs/a.bin", mtime, size: a.length, data: bytes(a.subarray(0, 1000), a.subarray(1000)) },
          { type: "file", path: "docs/ü.txt", mtime, size: b.length, data: bytes(b), mode: 0o100600 },
          { type: "file", path: "empty.txt", mtime, size: 0, data: bytes() },
        ]),
      ),
    );
    const raw = await readFile(file);
    expect(raw.readUInt16LE(4)).toBe(20);
    expect(raw.includes(Buffer.from([0x50, 0x4b, 0x06, 0x06]))).toBe(false);
    expect(pythonCheck(file)).toEqual({ count: 4, bad: null, zip64End: false });
    expect(execFileSync("unzip", ["-tq", file], { encoding: "utf8" })).toMatch(/No errors detected/);
    const out = join(dir, "small-out");
    execFileSync("unzip", ["-q", file, "-d", out]);
    expect((await readFile(join(out, "docs/a.bin"))).equals(a)).toBe(true);
    expect((await readFile(join(out, "docs/ü.txt"))).equals(b)).toBe(true);
    expect((await stat(join(out, "docs/ü.txt"))).mode & 0o777).toBe(0o600);
    expect((await stat(join(out, "empty.txt"))).size).toBe(0);
  });

  it("a file of unknown size gets a ZIP64 local header and 64-bit data descriptor, still readable", async () => {
    const c = randomBytes(70_000);
    const file = join(dir, "unknown.zip");
    await writeSparse(file, zipStream(list([{ type: "file", path: "c.bin", mtime, data: bytes(c) }])));
    const raw = await readFile(file);
    expect(raw.readUInt16LE(4)).toBe(45);
    // Descriptor: signature, CRC, then two 8-byte sizes.
    const d = raw.indexOf(Buffer.from([0x50, 0x4b, 0x07, 0x08]), 30 + 5 + 20 + c.length - 1);
    expect(raw.readBigUInt64LE(d + 8)).toBe(BigInt(c.length));
    expect(raw.readBigUInt64LE(d + 16)).toBe(BigInt(c.length));
    expect(pythonCheck(file)).toMatchObject({ count: 1, bad: null });
    expect(execFileSync("unzip", ["-p", file, "c.bin"]).equals(c)).toBe(true);
  });

  it("more than 65 535 entries: ZIP64 end record and locator; every entry listed and tested", async () => {
    const n = 70_000;
    const file = join(dir, "many.zip");
    await writeSparse(
      file,
      zipStream(
        list(function* () {
          yield { type: "dir", path: "many", mtime };
          for (let i = 1; i < n; i++) {
            const body = Buffer.from(`entry ${i}\n`);
            yield { type: "file", path: `many/f${i}.txt`, mtime, size: body.length, data: bytes(body) };
          }
        }),
      ),
    );
    expect(pythonCheck(file)).toEqual({ count: n, bad: null, zip64End: true });
    expect(execFileSync("unzip", ["-tq", file], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 })).toMatch(/No errors detected in compressed data of .* \(70000 entries\)|No errors detected/);
    expect(execFileSync("unzip", ["-p", file, "many/f69999.txt"], { encoding: "utf8" })).toBe("entry 69999\n");
    expect(py(`import sys, zipfile; print(len(zipfile.ZipFile(sys.argv[1]).namelist()))`, file).trim()).toBe(String(n));
  }, 120_000);

  it("an entry over 4 GiB and one after it (offset over 4 GiB): zip64 sizes and offsets; Python CRCs every byte, Info-ZIP reads the structure", async () => {
    const MiB = 1024 * 1024;
    const zeros = ZEROS;
    const size = 4 * 1024 * MiB + 3 * MiB;
    const tail = randomBytes(1000);
    async function* big() {
      for (let done = 0; done < size; done += MiB) yield zeros;
    }
    const file = join(dir, "big.zip");
    const total = await writeSparse(
      file,
      zipStream(
        list([
          { type: "file", path: "disk.img", mtime, size, data: big() },
          { type: "file", path: "after.txt", mtime, size: tail.length, data: bytes(tail) },
        ]),
      ),
    );
    expect(total).toBeGreaterThan(size);
    // Sparse: the zeros are holes.
    expect((await stat(file)).blocks * 512).toBeLessThan(64 * MiB);
    const info = JSON.parse(
      py(
        `import json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
print(json.dumps([[i.filename, i.file_size, i.header_offset] for i in z.infolist()]))`,
        file,
      ),
    ) as Array<[string, number, number]>;
    expect(info[0]).toEqual(["disk.img", size, 0]);
    expect(info[1]![0]).toBe("after.txt");
    expect(info[1]![2]).toBeGreaterThan(0xffff_ffff);
    // Python reads and CRCs all 4 GiB; Info-ZIP lists the ZIP64 sizes and seeks to the entry past 4 GiB.
    expect(pythonCheck(file)).toEqual({ count: 2, bad: null, zip64End: true });
    expect(execFileSync("zipinfo", ["-l", file], { encoding: "utf8" })).toMatch(new RegExp(`${size} \\S+ +${size} stor .*disk\\.img`));
    expect(execFileSync("unzip", ["-p", file, "after.txt"]).equals(tail)).toBe(true);
  }, 600_000);

  it("a file longer than the size it was listed with is refused mid-stream, not written corrupt", async () => {
    const block = Buffer.alloc(64 * 1024 * 1024);
    async function* lies() {
      for (let i = 0; i < 70; i++) yield block;
    }
    let sent = 0;
    const err = await (async () => {
      for await (const c of zipStream(list([{ type: "file", path: "liar.bin", mtime, size: 10, data: lies() }]))) sent += c.length;
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ZipLimitError);
    expect((err as Error).message).toBe("liar.bin grew past 4 GiB while its listed size was 10 bytes");
    // The end of the archive never went out.
    expect(sent).toBeLessThan(0xffff_ffff + 64 * 1024 * 1024);
  }, 120_000);
});
