import { lstat, mkdir, readdir, readFile, readlink, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { textBytes } from "./helpers";

/** A small corpus exercising every node type and multi-chunk files (with the test chunker params). */
export async function makeCorpus(root: string): Promise<void> {
  await mkdir(join(root, "docs/deep/deeper"), { recursive: true });
  await mkdir(join(root, "empty-dir"));
  await writeFile(join(root, "docs/a.txt"), textBytes(30_000, 1));
  await writeFile(join(root, "docs/b.txt"), textBytes(30_000, 1)); // duplicate of a.txt
  await writeFile(join(root, "docs/deep/big.bin"), Buffer.concat([randomBytes(150_000), textBytes(200_000, 2)]));
  await writeFile(join(root, "docs/deep/deeper/small"), "hello");
  await writeFile(join(root, "empty.txt"), "");
  await writeFile(join(root, "exec.sh"), "#!/bin/sh\necho hi\n", { mode: 0o750 });
  await symlink("docs/a.txt", join(root, "link-to-a"));
  await symlink("/nonexistent/target", join(root, "dangling"));
  await utimes(join(root, "docs/a.txt"), new Date("2020-01-02T03:04:05Z"), new Date("2020-01-02T03:04:05Z"));
}

export interface Entry {
  type: string;
  mode: number;
  mtimeMs?: number;
  content?: string;
}

/** Everything restore promises to preserve, keyed by relative path. */
export async function describeTree(root: string): Promise<Record<string, Entry>> {
  const out: Record<string, Entry> = {};
  async function walk(dir: string, rel: string) {
    for (const name of (await readdir(dir)).sort()) {
      const p = join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = await lstat(p);
      if (st.isDirectory()) {
        out[r] = { type: "dir", mode: st.mode & 0o7777, mtimeMs: Math.floor(st.mtimeMs) };
        await walk(p, r);
      } else if (st.isSymbolicLink()) out[r] = { type: "symlink", mode: 0, content: await readlink(p) };
      else out[r] = { type: "file", mode: st.mode & 0o7777, mtimeMs: Math.floor(st.mtimeMs), content: (await readFile(p)).toString("base64") };
    }
  }
  await walk(root, "");
  return out;
}
