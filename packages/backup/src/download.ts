/**
 * A download out of a recovery point: a file as its own bytes, a folder (or
 * the whole point) as a streamed ZIP. Bytes are decrypted and verified chunk
 * by chunk as they are sent; a damaged chunk ends the stream with an error
 * instead of delivering wrong bytes.
 */
import type { PointFiles } from "./browse";
import { splitPath } from "./browse";
import { zipStream, type ZipEntry } from "./zip";

export type Download = {
  filename: string;
  contentType: string;
  /** Known for single files only (a ZIP's size is known only once it is written). */
  size: number | null;
  body: AsyncIterable<Buffer>;
};

export async function openDownload(files: PointFiles, point: { rootTree: string; time: Date }, path: string): Promise<Download> {
  const { node } = await files.locate(point.rootTree, path);
  if (node && node.type === "file") {
    return { filename: node.name, contentType: "application/octet-stream", size: node.size, body: files.read(node) };
  }
  const parts = splitPath(path);
  const base = parts.join("/");
  const stamp = point.time.toISOString().slice(0, 19).replace(/[:T]/g, "-");
  const folderName = parts.at(-1) ?? "recovery-point";
  async function* entries(): AsyncGenerator<ZipEntry> {
    for await (const { entry, node: n } of files.walk(point.rootTree, path)) {
      // Paths inside the archive start at the folder that was asked for.
      const rel = base ? entry.path.slice(base.length + 1) : entry.path;
      const inZip = `${folderName}/${rel}`;
      const mtime = new Date(entry.mtime);
      if (n.type === "dir") yield { type: "dir", path: inZip, mtime, mode: n.mode };
      else if (n.type === "file") yield { type: "file", path: inZip, mtime, mode: n.mode, size: n.size, data: files.read(n) };
      // Symlinks and special files are not followed or materialised in a browser download.
    }
  }
  return { filename: `${folderName}-${stamp}.zip`, contentType: "application/zip", size: null, body: zipStream(entries()) };
}
