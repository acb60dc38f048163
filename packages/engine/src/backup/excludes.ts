/**
 * Exclude patterns for the backup walk, matched against recorded paths with
 * "/" as the separator (`C:\Users\a\x.tmp` is seen as `C:/Users/a/x.tmp`).
 *
 *   *.tmp            no "/": matches a name at any depth
 *   node_modules/    trailing "/": directories only
 *   **\/node_modules  "/" inside: matches at any depth ("**" spans directories)
 *   /var/cache       leading "/" or a drive ("C:\Temp"): anchored at the root
 *   *  ?  [a-z]  [!0-9]   one name's characters; "**" any number of directories
 *
 * A match excludes the entry and everything below it. In patterns "\" is a
 * path separator, not an escape (Windows paths are written as they are).
 * Negation ("!x") is refused rather than silently ignored.
 *
 * A hand-written matcher rather than a dependency: the syntax above is all
 * the walk needs, and Windows separators are not what glob libraries assume.
 */
import { RepositoryError } from "../errors";

export interface ExcludeMatcher {
  /** `path`: a recorded path with "/" separators; `isDir` only asked for directory-only patterns. */
  excluded(path: string, isDir: () => boolean): boolean;
}

interface Compiled {
  re: RegExp;
  dirOnly: boolean;
}

export function compileExcludes(patterns: readonly string[], ignoreCase: boolean): ExcludeMatcher | undefined {
  if (patterns.length === 0) return undefined;
  const compiled = patterns.map((p) => compileOne(p, ignoreCase));
  return {
    excluded(path, isDir) {
      for (const c of compiled) {
        if (c.re.test(path) && (!c.dirOnly || isDir())) return true;
      }
      return false;
    },
  };
}

function compileOne(pattern: string, ignoreCase: boolean): Compiled {
  let p = pattern.trim().replace(/\\/g, "/");
  if (p === "" || p === "/") throw new RepositoryError(`exclude pattern ${JSON.stringify(pattern)} is empty or excludes everything`);
  if (p.startsWith("!")) throw new RepositoryError(`exclude pattern ${JSON.stringify(pattern)}: negation is not supported`);
  const dirOnly = p.endsWith("/");
  p = p.replace(/\/+$/, "");
  const drive = /^[A-Za-z]:(\/|$)/.test(p);
  // A drive letter is case-insensitive whatever the option says.
  if (drive) p = `[${p[0]!.toUpperCase()}${p[0]!.toLowerCase()}]${p.slice(1)}`;
  const anchored = drive || p.startsWith("/");
  const body = globToRegex(anchored && !drive ? p.slice(1) : p, pattern);
  const prefix = drive ? "^" : anchored ? "^/" : "(?:^|/)";
  // "Everything below a match" is the walk's job (it does not descend); the
  // suffix makes the same matcher answer for deeper paths too (sources below an excluded dir).
  return { re: new RegExp(`${prefix}${body}${dirOnly ? "" : "(?:/.*)?"}$`, ignoreCase ? "i" : ""), dirOnly };
}

function globToRegex(glob: string, original: string): string {
  let out = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") {
      if (glob[i + 1] === "*") {
        const atStart = i === 0 || glob[i - 1] === "/";
        i++;
        if (atStart && glob[i + 1] === "/") {
          i++;
          out += "(?:.*/)?";
        } else out += ".*";
      } else out += "[^/]*";
    } else if (c === "?") out += "[^/]";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end < 0) throw new RepositoryError(`exclude pattern ${JSON.stringify(original)}: unclosed "["`);
      let cls = glob.slice(i + 1, end);
      if (cls.startsWith("!")) cls = `^${cls.slice(1)}`;
      out += `[${cls.replace(/[\\\]]/g, "\\$&")}]`;
      i = end;
    } else out += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return out;
}
