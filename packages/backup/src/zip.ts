/**
 * A streaming ZIP writer for folder downloads: entries are "stored" (the
 * chunks were already compressed for storage; compressing again on the fly
 * would cost a core per download) and sizes/CRCs follow each entry in a data
 * descriptor, so nothing is buffered and the first byte goes out at once.
 * Classic ZIP only (no ZIP64): a folder over 4 GiB or 65 535 entries is
 * refused mid-stream with a clear error rather than written corrupt.
 */
import { crc32 } from "node:zlib";

export type ZipEntry = { path: string; mtime: Date; mode?: number } & ({ type: "dir" } | { type: "file"; data: AsyncIterable<Buffer> });

const LIMIT = 0xffff_ffff;
/** General purpose flags: bit 3 (sizes in the data descriptor), bit 11 (UTF-8 names). */
const FLAGS = 0x0808;

export class ZipLimitError extends Error {
  override name = "ZipLimitError";
}

function dosDateTime(d: Date): { time: number; date: number } {
  const year = Math.max(1980, d.getUTCFullYear());
  return {
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | Math.floor(d.getUTCSeconds() / 2),
    date: ((year - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
  };
}

export async function* zipStream(entries: AsyncIterable<ZipEntry>): AsyncGenerator<Buffer> {
  const central: Buffer[] = [];
  let offset = 0;
  let count = 0;
  for await (const e of entries) {
    const name = Buffer.from(e.type === "dir" ? `${e.path.replace(/\/+$/, "")}/` : e.path, "utf8");
    const { time, date } = dosDateTime(e.mtime);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(FLAGS, 6);
    local.writeUInt16LE(0, 8);
    local.writeUInt16LE(time, 10);
    local.writeUInt16LE(date, 12);
    local.writeUInt16LE(name.length, 26);
    const headerOffset = offset;
    yield Buffer.concat([local, name]);
    offset += 30 + name.length;

    let crc = 0;
    let size = 0;
    if (e.type === "file") {
      for await (const chunk of e.data) {
        crc = crc32(chunk, crc);
        size += chunk.length;
        if (size > LIMIT) throw new ZipLimitError(`${e.path} is larger than 4 GiB: download it on its own`);
        yield chunk;
      }
    }
    offset += size;
    const descriptor = Buffer.alloc(16);
    descriptor.writeUInt32LE(0x08074b50, 0);
    descriptor.writeUInt32LE(crc >>> 0, 4);
    descriptor.writeUInt32LE(size, 8);
    descriptor.writeUInt32LE(size, 12);
    yield descriptor;
    offset += 16;
    if (offset > LIMIT) throw new ZipLimitError("this folder is larger than 4 GiB: download its subfolders separately");
    if (++count > 0xffff) throw new ZipLimitError("this folder has more than 65 535 entries: download its subfolders separately");

    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE((3 << 8) | 20, 4); // made by: UNIX, so the mode in the external attributes is honoured
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(FLAGS, 8);
    cd.writeUInt16LE(0, 10);
    cd.writeUInt16LE(time, 12);
    cd.writeUInt16LE(date, 14);
    cd.writeUInt32LE(crc >>> 0, 16);
    cd.writeUInt32LE(size, 20);
    cd.writeUInt32LE(size, 24);
    cd.writeUInt16LE(name.length, 28);
    const mode = (e.mode ?? (e.type === "dir" ? 0o40755 : 0o100644)) & 0xffff;
    cd.writeUInt32LE(((mode << 16) | (e.type === "dir" ? 0x10 : 0)) >>> 0, 38);
    cd.writeUInt32LE(headerOffset, 42);
    central.push(cd, name);
  }
  const cdBytes = Buffer.concat(central);
  yield cdBytes;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(count, 8);
  end.writeUInt16LE(count, 10);
  end.writeUInt32LE(cdBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  yield end;
}
