/**
 * What every command needs: the store named by --repo, the password, and an
 * output that is either human text or one JSON document (--json).
 */
import { readFile } from "node:fs/promises";
import { env } from "@tidemark/config";
import { createStoreFromUrl, type BlobStore, type RepoStore } from "@tidemark/storage";
import { EngineError } from "../errors";

export class UsageError extends EngineError {}

export interface GlobalOptions {
  repo?: string;
  "password-file"?: string;
  json?: boolean;
}

/** ./dir, /abs, file://, or azure://CONTAINER (account from the environment); wrapped in retry + concurrency limit. */
export async function openStore(repo: string | undefined, create = false): Promise<BlobStore> {
  if (!repo) throw new UsageError("--repo is required (a directory, or azure://CONTAINER)");
  let store: RepoStore;
  try {
    store = createStoreFromUrl(repo);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (create) await store.prepare();
  return store;
}

export async function readPassword(opts: GlobalOptions): Promise<string> {
  if (opts["password-file"]) {
    let text: string;
    try {
      text = await readFile(opts["password-file"], "utf8");
    } catch (e) {
      throw new UsageError(`cannot read --password-file ${opts["password-file"]}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const pw = text.replace(/\r?\n$/, "");
    if (!pw) throw new UsageError(`--password-file ${opts["password-file"]} is empty`);
    return pw;
  }
  const pw = env().TIDEMARK_PASSWORD;
  if (!pw) throw new UsageError("no password: set TIDEMARK_PASSWORD or pass --password-file");
  return pw;
}

/** A single self-overwriting status line, only when stderr is a terminal. */
export class ProgressLine {
  private readonly tty = Boolean(process.stderr.isTTY);
  /** False when nothing would be shown (stderr is not a terminal): callers skip work that only feeds the line. */
  get enabled(): boolean {
    return this.tty;
  }
  private last = 0;
  private shown = false;
  update(text: string) {
    if (!this.tty) return;
    const now = Date.now();
    if (now - this.last < 100) return;
    this.last = now;
    const width = process.stderr.columns ?? 100;
    process.stderr.write(`\r${text.slice(0, width - 1).padEnd(Math.min(width - 1, text.length + 2))}`);
    this.shown = true;
  }
  done() {
    if (this.shown) process.stderr.write("\r\x1b[K");
    this.shown = false;
  }
}

export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

export function duration(sec: number): string {
  if (!Number.isFinite(sec)) return "?";
  const s = Math.round(sec);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}
