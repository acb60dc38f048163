/**
 * The policy's include paths and exclude patterns as the engine's backup
 * options, for the platform the agent runs on. Windows paths (`C:\Users`) are
 * handled with path.win32 whatever the host, so they are tested on Linux too.
 * Excludes are the engine's glob patterns over recorded paths (an absolute
 * path excludes itself and everything below; `*.tmp`, `**\/node_modules`…);
 * the agent's own state directory is always excluded, escaped so that its
 * name is never read as a glob.
 */
import { posix, win32 } from "node:path";
import { compileExcludes, type ExcludeMatcher } from "@tidemark/engine";

export type Platform = NodeJS.Platform;

const pathFor = (platform: Platform) => (platform === "win32" ? win32 : posix);

/** Absolute, normalised; on Windows `c:/x/` → `c:\x`. */
export function normalizePath(p: string, platform: Platform = process.platform): string {
  return pathFor(platform).resolve(p);
}

export function isUnder(path: string, prefix: string, platform: Platform = process.platform): boolean {
  const P = pathFor(platform);
  const rel = platform === "win32" ? P.relative(prefix.toLowerCase(), path.toLowerCase()) : P.relative(prefix, path);
  return rel === "" || (!rel.startsWith("..") && !P.isAbsolute(rel));
}

/** A literal path as an exclude pattern: glob characters stand for themselves. */
export function escapeGlob(p: string): string {
  return p.replace(/[*?[]/g, (c) => `[${c}]`);
}

export interface CapturePlan {
  /** Include paths, normalised, nested ones dropped (the outer one covers them). */
  includes: string[];
  /** Valid exclude patterns (the policy's + the always-excluded paths). */
  excludes: string[];
  /** Policy patterns the engine refuses, with why: left out and reported, never fatal. */
  invalid: Array<{ pattern: string; error: string }>;
  matcher: ExcludeMatcher | undefined;
  ignoreCase: boolean;
}

export function planCapture(includePaths: string[], excludePatterns: string[], alwaysExclude: string[], platform: Platform = process.platform): CapturePlan {
  const inc = [...new Set(includePaths.map((p) => normalizePath(p, platform)))].sort();
  const includes = inc.filter((p) => !inc.some((q) => q !== p && isUnder(p, q, platform)));
  const ignoreCase = platform === "win32";
  const excludes: string[] = [];
  const invalid: CapturePlan["invalid"] = [];
  for (const pattern of excludePatterns) {
    try {
      compileExcludes([pattern], ignoreCase);
      excludes.push(pattern);
    } catch (e) {
      invalid.push({ pattern, error: (e as Error).message });
    }
  }
  for (const p of alwaysExclude) excludes.push(escapeGlob(normalizePath(p, platform)));
  return { includes, excludes, invalid, matcher: compileExcludes(excludes, ignoreCase), ignoreCase };
}

/**
 * Whether a change event at `path` can alter a point: below an include and
 * not excluded. Directory-only patterns (`cache/`) are not applied here (an
 * event does not say what the path is): such events cost a walk that finds
 * nothing, never a missed change.
 */
export function eventMatters(plan: CapturePlan, path: string, platform: Platform = process.platform): boolean {
  if (!plan.includes.some((inc) => isUnder(path, inc, platform))) return false;
  return !plan.matcher?.excluded(path.replace(/\\/g, "/"), () => false);
}
