/**
 * A streaming ZIP writer for folder downloads: entries are "stored" (the
 * chunks were already compressed for storage; compressing again on the fly
 * would cost a core per download) and sizes/CRCs follow each entry in a data
 * descriptor, so nothing is buffered but the central directory and the first
 * byte goes out at once.
 *
 * ZIP64 where needed, classic ZIP everywhere else (older unzippers still
 * meet plenty of those): a file entry whose size is not given, or is at
 * least 4 GiB, gets a ZIP64 local header (version 4.5, sizes 0xFFFFFFFF with
 * a zip64 extra field) and a data descriptor with 64-bit sizes; the central
 * directory carries a zip64 extra field for any size or offset that does not
 * fit 32 bits; more than 65 535 entries or a central directory beyond 4 GiB
 * adds the ZIP64 end of central directory record and its locator.
 */
import { crc32 } from "node:zlib";

export type ZipEntry = { path: string; mtime: Date; mode?: number } & (
  | { type: "dir" }
  /** `size`, when known, keeps small files in classic ZIP; a file larger than it says fails the stream. */
  | { type: "file"; data: AsyncIterable<Buffer>; size?: number }
);

const MAX32 = 0xffff_ffff;
const MAX16 = 0xffff;
/** General purpose flags: bit 3 (sizes in the data descriptor), bit 11 (UTF-8 names). */
const FLAGS = 0x0808;
const V_CLASSIC = 20;
const V_ZIP64 = 45;
/** Made by UNIX (high byte 3), so the mode in the external attributes is honoured. */
const MADE_BY = (3 << 8) | V_ZIP64;

export class ZipLimitError extends Error {
  override name = "ZipLimitError";
}

function dosDateTime(d: Date): { time: number; date: number } {
  const year = Math.min(2107, Math.max(1980, d.getUTCFullYear()));
  return {
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | Math.floor(d.getUTCSeconds() / 2),
    date: ((year - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
  };
}

/** The zip64 extended information extra field (0x0001) holding the given 64-bit values. */
function zip64Extra(values: number[]): Buffer {
  const b = Buffer.alloc(4 + 8 * values.length);
  b.writeUInt16LE(0x0001, 0);
  b.writeUInt16LE(8 * values.length, 2);
  values.forEach((v, i) => b.writeBigUInt64LE(BigInt(v), 4 + 8 * i));
  return b;
}

function localHeader(name: Buffer, time: number, date: number, zip64: boolean): Buffer {
  // With bit 3 the CRC and sizes are unknown here: zero, or 0xFFFFFFFF pointing at a zeroed zip64 extra field.
  const extra = zip64 ? zip64Extra([0, 0]) : Buffer.alloc(0);
  const h = Buffer.alloc(30);
  h.writeUInt32LE(0x04034b50, 0);
  h.writeUInt16LE(zip64 ? V_ZIP64 : V_CLASSIC, 4);
  h.writeUInt16LE(FLAGS, 6);
  h.writeUInt16LE(0, 8); // stored
  h.writeUInt16LE(time, 10);
  h.writeUInt16LE(date, 12);
  h.writeUInt32LE(0, 14);
  h.writeUInt32LE(zip64 ? MAX32 : 0, 18);
  h.writeUInt32LE(zip64 ? MAX32 : 0, 22);
  h.writeUInt16LE(name.length, 26);
  h.writeUInt16LE(extra.length, 28);
  return Buffer.concat([h, name, extra]);
}

function dataDescriptor(crc: number, size: number, zip64: boolean): Buffer {
  const d = Buffer.alloc(zip64 ? 24 : 16);
  d.writeUInt32LE(0x08074b50, 0);
  d.writeUInt32LE(crc >>> 0, 4);
  if (zip64) {
    d.writeBigUInt64LE(BigInt(size), 8);
    d.writeBigUInt64LE(BigInt(size), 16);
  } else {
    d.writeUInt32LE(size, 8);
    d.writeUInt32LE(size, 12);
  }
  return d;
}

type CentralRecord = { name: Buffer; time: number; date: number; crc: number; size: number; offset: number; externalAttrs: number; zip64Local: boolean };

function centralHeader(r: CentralRecord): Buffer {
  // Only the fields that overflow go into the extra field, in the order the format fixes.
  const big: number[] = [];
  if (r.size >= MAX32) big.push(r.size, r.size);
  if (r.offset >= MAX32) big.push(r.offset);
  const extra = big.length ? zip64Extra(big) : Buffer.alloc(0);
  const h = Buffer.alloc(46);
  h.writeUInt32LE(0x02014b50, 0);
  h.writeUInt16LE(MADE_BY, 4);
  h.writeUInt16LE(big.length || r.zip64Local ? V_ZIP64 : V_CLASSIC, 6);
  h.writeUInt16LE(FLAGS, 8);
  h.writeUInt16LE(0, 10);
  h.writeUInt16LE(r.time, 12);
  h.writeUInt16LE(r.date, 14);
  h.writeUInt32LE(r.crc >>> 0, 16);
  h.writeUInt32LE(Math.min(r.size, MAX32), 20);
  h.writeUInt32LE(Math.min(r.size, MAX32), 24);
  h.writeUInt16LE(r.name.length, 28);
  h.writeUInt16LE(extra.length, 30);
  h.writeUInt32LE(r.externalAttrs, 38);
  h.writeUInt32LE(Math.min(r.offset, MAX32), 42);
  return Buffer.concat([h, r.name, extra]);
}

function endRecords(count: number, cdSize: number, cdOffset: number): Buffer {
  const parts: Buffer[] = [];
  if (count >= MAX16 || cdSize >= MAX32 || cdOffset >= MAX32) {
    const z = Buffer.alloc(56);
    z.writeUInt32LE(0x06064b50, 0);
    z.writeBigUInt64LE(44n, 4); // size of the rest of this record
    z.writeUInt16LE(MADE_BY, 12);
    z.writeUInt16LE(V_ZIP64, 14);
    z.writeUInt32LE(0, 16); // this disk
    z.writeUInt32LE(0, 20); // disk with the central directory
    z.writeBigUInt64LE(BigInt(count), 24);
    z.writeBigUInt64LE(BigInt(count), 32);
    z.writeBigUInt64LE(BigInt(cdSize), 40);
    z.writeBigUInt64LE(BigInt(cdOffset), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeUInt32LE(0, 4);
    locator.writeBigUInt64LE(BigInt(cdOffset + cdSize), 8);
    locator.writeUInt32LE(1, 16); // total disks
    parts.push(z, locator);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Math.min(count, MAX16), 8);
  end.writeUInt16LE(Math.min(count, MAX16), 10);
  end.writeUInt32LE(Math.min(cdSize, MAX32), 12);
  end.writeUInt32LE(Math.min(cdOffset, MAX32), 16);
  parts.push(end);
  return Buffer.concat(parts);
}

export async function* zipStream(entries: AsyncIterable<ZipEntry>): AsyncGenerator<Buffer> {
  // Central records are kept as parts, not one growing buffer: 100k+ entries stay cheap to collect.
  const central: Buffer[] = [];
  let cdSize = 0;
  let offset = 0;
  let count = 0;
  for await (const e of entries) {
    const name = Buffer.from(e.type === "dir" ? `${e.path.replace(/\/+$/, "")}/` : e.path, "utf8");
    if (name.length > MAX16) throw new ZipLimitError(`${e.path.slice(0, 80)}…: a name in a ZIP is at most 65 535 bytes`);
    const { time, date } = dosDateTime(e.mtime);
    const zip64Local = e.type === "file" && (e.size === undefined || e.size >= MAX32);
    const headerOffset = offset;
    const header = localHeader(name, time, date, zip64Local);
    yield header;
    offset += header.length;

    let crc = 0;
    let size = 0;
    if (e.type === "file") {
      for await (const chunk of e.data) {
        crc = crc32(chunk, crc);
        size += chunk.length;
        // A classic header promised 32-bit sizes; going past them would write a corrupt archive.
        if (!zip64Local && size >= MAX32) throw new ZipLimitError(`${e.path} grew past 4 GiB while its listed size was ${e.size} bytes`);
        yield chunk;
      }
    }
    // Bit 3 is set on every entry, so streaming readers expect a descriptor after directories too.
    const descriptor = dataDescriptor(crc, size, zip64Local);
    yield descriptor;
    offset += size + descriptor.length;
    count++;

    const mode = (e.mode ?? (e.type === "dir" ? 0o40755 : 0o100644)) & 0xffff;
    const cd = centralHeader({ name, time, date, crc, size, offset: headerOffset, externalAttrs: ((mode << 16) | (e.type === "dir" ? 0x10 : 0)) >>> 0, zip64Local });
    central.push(cd);
    cdSize += cd.length;
  }
  // Flushed in slices so a huge directory does not become one multi-megabyte write.
  for (let i = 0; i < central.length; i += 4096) yield Buffer.concat(central.slice(i, i + 4096));
  yield endRecords(count, cdSize, offset);
}
