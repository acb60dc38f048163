/**
 * Windows attributes (read-only, hidden, system…) for the engine's
 * `BackupOptions.attributes`. Node's stat has none and the engine asks per
 * entry, synchronously, so the agent lists them BEFORE the walk in one
 * PowerShell process per point and answers from that table:
 * - full walk: every source recursively;
 * - incremental walk: each changed path recursively, plus a plain listing of
 *   every directory on the way to it (the walk inspects those entries too).
 * Paths reach PowerShell through a script on stdin, never a command line. The
 * script walks with an explicit stack (no recursion limit) and does not
 * descend into reparse points (junction loops). An entry not listed gets no
 * `attrs`; a listing that fails costs the attributes of that point, never the
 * point. Built and parsed here, unit-tested on Linux with a fake runner; it
 * has not run on a real Windows (README).
 */
import { spawnRunner, type Invocation, type Runner } from "./engine";

export interface AttributeRoot {
  /** Where to read (a shadow path in a VSS cycle). */
  path: string;
  /** true: everything below; false: the entry and, for a directory, its direct children. */
  recurse: boolean;
}

const psQuote = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** One PowerShell run listing `roots`: stdout lines "attrs<TAB>FullName" (names cannot contain tabs or line breaks on Windows). */
export function attributeListingInvocation(roots: readonly AttributeRoot[]): Invocation {
  const lines = [
    "$ErrorActionPreference = 'Continue'",
    "[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false",
    "$out = [Console]::Out",
    "$stack = New-Object System.Collections.Stack",
    "function Emit($i) { $out.WriteLine(([int]$i.Attributes).ToString() + \"`t\" + $i.FullName) }",
    "function Walk($p, $deep) {",
    "  try { $i = Get-Item -LiteralPath $p -Force -ErrorAction Stop } catch { $out.WriteLine(\"MISSING`t\" + $p); return }",
    "  Emit $i",
    "  if (-not ($i.Attributes -band [IO.FileAttributes]::Directory)) { return }",
    "  $stack.Push(@($i.FullName, $true))",
    "  while ($stack.Count -gt 0) {",
    "    $d = $stack.Pop()",
    "    try { $kids = (New-Object System.IO.DirectoryInfo $d[0]).GetFileSystemInfos() } catch { $out.WriteLine(\"UNREADABLE`t\" + $d[0]); continue }",
    "    foreach ($k in $kids) {",
    "      Emit $k",
    "      $dir = $k.Attributes -band [IO.FileAttributes]::Directory",
    "      $link = $k.Attributes -band [IO.FileAttributes]::ReparsePoint",
    "      if ($deep -and $dir -and -not $link) { $stack.Push(@($k.FullName, $true)) }",
    "    }",
    "  }",
    "}",
    ...roots.map((r) => `Walk ${psQuote(r.path)} $${r.recurse ? "true" : "false"}`),
  ];
  return { command: "powershell.exe", args: ["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-Command", "-"], stdin: lines.join("\r\n") + "\r\n" };
}

/** Case-insensitive, either separator, no doubled or trailing ones (except a drive root's). */
export function attributeKey(path: string): string {
  let p = path.replace(/\//g, "\\");
  const lead = p.startsWith("\\\\") ? "\\\\" : "";
  p = lead + p.slice(lead.length).replace(/\\{2,}/g, "\\");
  if (p.length > 3 && p.endsWith("\\")) p = p.slice(0, -1);
  return p.toLowerCase();
}

export interface AttributeListing {
  attrs: Map<string, number>;
  /** Roots that did not exist, directories that could not be listed. */
  missing: string[];
  unreadable: string[];
}

export function parseAttributeListing(stdout: string): AttributeListing {
  const out: AttributeListing = { attrs: new Map(), missing: [], unreadable: [] };
  for (const line of stdout.split(/\r?\n/)) {
    const tab = line.indexOf("\t");
    if (tab <= 0) continue;
    const head = line.slice(0, tab);
    const path = line.slice(tab + 1);
    if (!path) continue;
    if (head === "MISSING") out.missing.push(path);
    else if (head === "UNREADABLE") out.unreadable.push(path);
    else if (/^\d{1,10}$/.test(head)) {
      const n = Number(head);
      // FILE_ATTRIBUTE_* fit in 32 bits; anything else is noise on stdout (a profile that printed).
      if (n <= 0xffffffff) out.attrs.set(attributeKey(path), n);
    }
  }
  return out;
}

/** The roots a point needs listed. `changed` (recorded paths) undefined: a full walk. */
export function attributeRoots(sources: ReadonlyArray<{ read: string; record: string }>, changed: Iterable<string> | undefined): AttributeRoot[] {
  if (!changed) return sources.map((s) => ({ path: s.read, recurse: true }));
  const roots = new Map<string, AttributeRoot>();
  const add = (path: string, recurse: boolean) => {
    const k = attributeKey(path);
    const had = roots.get(k);
    if (!had || (recurse && !had.recurse)) roots.set(k, { path, recurse });
  };
  for (const c of changed) {
    const ck = attributeKey(c);
    const src = sources.find((s) => {
      const sk = attributeKey(s.record);
      return ck === sk || ck.startsWith(sk + "\\");
    });
    if (!src) continue;
    const rest = c.replace(/\//g, "\\").slice(src.record.replace(/\\+$/, "").length).split("\\").filter(Boolean);
    // The source itself and every directory on the way: their entries are inspected again.
    let at = src.read.replace(/\\+$/, "");
    add(at, false);
    for (const part of rest.slice(0, -1)) {
      at = `${at}\\${part}`;
      add(at, false);
    }
    if (rest.length) add(`${at}\\${rest.at(-1)}`, true);
    else add(at, true);
  }
  return [...roots.values()];
}

/** Lists before a point, answers the engine's synchronous per-entry question from the table. */
export class WindowsAttributeReader {
  private table = new Map<string, number>();
  constructor(private readonly run: Runner = spawnRunner) {}

  /** Replaces the table. Resolves with what went wrong (undefined: listed) — never rejects. */
  async prime(roots: readonly AttributeRoot[]): Promise<{ entries: number; problem?: string }> {
    this.table = new Map();
    if (roots.length === 0) return { entries: 0 };
    let stdout: string;
    let code: number;
    try {
      ({ stdout, code } = await this.run(attributeListingInvocation(roots)));
    } catch (e) {
      return { entries: 0, problem: `Windows attributes not read (${(e as Error).message}): this point records none` };
    }
    const listing = parseAttributeListing(stdout);
    this.table = listing.attrs;
    if (code !== 0 && listing.attrs.size === 0) return { entries: 0, problem: `Windows attributes not read (powershell exited ${code}): this point records none` };
    if (listing.unreadable.length) return { entries: listing.attrs.size, problem: `Windows attributes of ${listing.unreadable.length} folder(s) not read, e.g. ${listing.unreadable[0]}` };
    return { entries: listing.attrs.size };
  }

  /** The engine's `attributes` option. */
  readonly read = (readPath: string): number | undefined => this.table.get(attributeKey(readPath));

  /** Frees the table between points (it can hold every entry of the machine after a full walk). */
  clear(): void {
    this.table = new Map();
  }
}
