/**
 * Executes a restore job from the portal. The job's read SAS (read + list on
 * the customer's container) gives the packs and the customer-wide index
 * objects; the keys and config come from the spool (the agent holds the
 * master key, not the KEK the container's key files are wrapped with).
 *
 * The engine restores into a staging folder beside the destination; files are
 * then moved into place one by one under the job's conflict rule
 * (overwrite / skip / keep-both), so a half-finished restore never leaves
 * half-written files at the destination.
 */
import { copyFile, lstat, mkdir, readdir, rename, rm, symlink, readlink } from "node:fs/promises";
import { existsSync } from "node:fs";
import { basename, dirname, extname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { AgentClient, RestoreJob } from "@tidemark/agent-protocol";
import { AzureBlobStore, type BlobMeta, type BlobStore, type GetOptions } from "@tidemark/storage";
import { Repository, restore } from "./engine";

/** Reads through the job's SAS, except the key files and config, which the spool holds. */
class RestoreStore implements BlobStore {
  readonly description = "restore(azure + spool keys)";
  constructor(
    private readonly azure: BlobStore,
    private readonly spool: BlobStore,
  ) {}
  private pick(key: string) {
    return key === "config" || key.startsWith("keys/") ? this.spool : this.azure;
  }
  put(): Promise<void> {
    return Promise.reject(new Error("a restore never writes to the repository"));
  }
  get(key: string, opts?: GetOptions) {
    return this.pick(key).get(key, opts);
  }
  head(key: string) {
    return this.pick(key).head(key);
  }
  list(prefix: string): AsyncIterable<BlobMeta> {
    return this.pick(prefix).list(prefix);
  }
  delete(): Promise<void> {
    return Promise.reject(new Error("a restore never deletes"));
  }
}

export interface RestoreOutcome {
  ok: boolean;
  restoredFiles: number;
  skipped: number;
  failed: Array<{ path: string; error: string }>;
}

export interface RestoreJobOptions {
  /** Decode worker threads (default: the engine's — workers for a restore of 64 MiB and more). */
  decodeWorkers?: number;
  /** The decode worker's module; default: decodeWorkerBesideBundle(). */
  decodeWorkerEntry?: string | URL;
}

/**
 * Where the shipped agent keeps the engine's restore decode worker: decode-worker.js beside
 * the bundle (scripts/bundle.mjs). Run from .ts sources there is none: the engine boots its
 * own worker through tsx. A bundle without the file decodes on the main thread (said in the log).
 */
export function decodeWorkerBesideBundle(here: string = import.meta.url, log?: (l: string) => void): URL | undefined {
  if (here.endsWith(".ts")) return undefined;
  const entry = new URL("./decode-worker.js", here);
  if (existsSync(entry)) return entry;
  log?.(`restore: ${fileURLToPath(entry)} is missing (ship it beside the bundle); restores decode on the main thread`);
  return undefined;
}

export async function executeRestoreJob(job: RestoreJob, spool: BlobStore, spoolKek: Buffer, api: AgentClient, log: (l: string) => void, now = new Date(), opts: RestoreJobOptions = {}): Promise<RestoreOutcome> {
  const decodeWorkerEntry = opts.decodeWorkerEntry ?? decodeWorkerBesideBundle(import.meta.url, log);
  const azure = new AzureBlobStore({ sasUrl: job.readSasUrl });
  const repo = await Repository.open(new RestoreStore(azure, spool), { kek: spoolKek });
  const out: RestoreOutcome = { ok: true, restoredFiles: 0, skipped: 0, failed: [] };
  let lastReport = 0;
  let progressInFlight: Promise<void> | undefined;
  try {
    const snapshot = await repo.loadSnapshot(job.snapshotId);
    const paths = job.paths.length ? job.paths : [undefined];
    const stamp = now.toISOString().replace(/[:.]/g, "-");
    for (const [i, p] of paths.entries()) {
      const dst = destinationFor(job, p);
      const staging = join(dirname(dst === "/" ? "/x" : dst), `.tidemark-restore-${job.id}-${i}`);
      await rm(staging, { recursive: true, force: true });
      try {
        const r = await restore(repo, { id: job.snapshotId, snapshot }, {
          target: staging,
          ...(p ? { path: p } : {}),
          ...(decodeWorkerEntry ? { decodeWorkerEntry } : {}),
          ...(opts.decodeWorkers !== undefined ? { decodeWorkers: opts.decodeWorkers } : {}),
          onProgress: (pr) => {
            const t = Date.now();
            if (t - lastReport < 1000) return;
            lastReport = t;
            // One report in flight at a time, and all of them settled before the result goes out
            // (a progress report arriving after the result is refused as "job finished").
            if (progressInFlight) return;
            progressInFlight = api
              .restoreProgress(job.id, { bytesDone: pr.bytes, filesDone: pr.files, bytesTotal: pr.totalBytes, filesTotal: pr.totalFiles })
              .catch((e) => log(`restore progress not sent: ${(e as Error).message}`))
              .finally(() => (progressInFlight = undefined));
          },
        });
        out.failed.push(...r.failures);
        const src = p ? join(staging, basename(p)) : staging;
        await merge(src, dst, job.conflict, stamp, out);
      } finally {
        await rm(staging, { recursive: true, force: true });
      }
    }
  } catch (e) {
    out.failed.push({ path: job.paths.join(", ") || "/", error: (e as Error).message.slice(0, 1000) });
  } finally {
    await progressInFlight;
    await repo.close();
  }
  out.ok = out.failed.length === 0;
  return out;
}

/** Where path p of the point lands: its own place, or below the chosen folder. */
export function destinationFor(job: Pick<RestoreJob, "destination">, p: string | undefined): string {
  if (job.destination.kind === "original") return p ? resolve(p) : "/";
  const folder = resolve(job.destination.path);
  return p ? join(folder, basename(resolve(p))) : folder;
}

/** "report.docx" → "report (restored 2026-…).docx" */
export function keepBothName(path: string, stamp: string): string {
  const ext = extname(path);
  return `${path.slice(0, path.length - ext.length)} (restored ${stamp})${ext}`;
}

async function merge(src: string, dst: string, rule: RestoreJob["conflict"], stamp: string, out: RestoreOutcome): Promise<void> {
  let st;
  try {
    st = await lstat(src);
  } catch {
    return; // nothing restored here (failures already recorded)
  }
  const existing = await lstat(dst).catch(() => undefined);
  if (st.isDirectory()) {
    if (existing && !existing.isDirectory()) {
      if (rule === "skip") return void out.skipped++;
      if (rule === "keep-both") return move(src, keepBothName(dst, stamp), out);
      await rm(dst, { force: true });
    }
    await mkdir(dst, { recursive: true });
    for (const name of await readdir(src)) await merge(join(src, name), join(dst, name), rule, stamp, out);
    return;
  }
  if (existing) {
    if (rule === "skip") return void out.skipped++;
    if (rule === "keep-both") return move(src, keepBothName(dst, stamp), out);
    if (existing.isDirectory()) await rm(dst, { recursive: true, force: true });
  }
  await move(src, dst, out);
}

async function move(src: string, dst: string, out: RestoreOutcome): Promise<void> {
  try {
    try {
      await rename(src, dst);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EXDEV") throw e;
      const st = await lstat(src);
      if (st.isSymbolicLink()) await symlink(await readlink(src), dst);
      else await copyFile(src, dst);
    }
    out.restoredFiles++;
  } catch (e) {
    out.failed.push({ path: dst, error: (e as NodeJS.ErrnoException).code ?? (e as Error).message });
  }
}
