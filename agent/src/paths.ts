/**
 * Include paths minus exclude prefixes, as a list of backup sources. The
 * engine backs up whole sources, so an excluded path inside an included
 * directory is cut out by including that directory's other entries instead,
 * level by level down to the excluded path. Recomputed for every point (new
 * siblings appear), with the previous point passed as explicit parent so the
 * changed source list does not cost a re-read.
 */
import { readdir } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";

export function isUnder(path: string, prefix: string): boolean {
  const rel = relative(prefix, path);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

export async function expandSources(includes: string[], excludes: string[]): Promise<string[]> {
  const inc = [...new Set(includes.map((p) => resolve(p)))];
  const exc = [...new Set(excludes.map((p) => resolve(p)))];
  const out: string[] = [];
  for (const p of inc) {
    if (exc.some((x) => isUnder(p, x))) continue;
    await expand(p, exc.filter((x) => isUnder(x, p)), out);
  }
  // Nested includes would capture the same files twice.
  return [...new Set(out)].sort().filter((p, _i, all) => !all.some((q) => q !== p && isUnder(p, q)));
}

async function expand(dir: string, excl: string[], out: string[]): Promise<void> {
  if (excl.length === 0) {
    out.push(dir);
    return;
  }
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    // Not a directory or unreadable: the backup records the error for the source itself.
    out.push(dir);
    return;
  }
  for (const name of names.sort()) {
    const child = join(dir, name);
    if (excl.some((x) => x === child)) continue;
    const below = excl.filter((x) => isUnder(x, child) && x !== child);
    await expand(child, below, out);
  }
}

export const pathDepth = (p: string) => p.split(sep).filter(Boolean).length;
