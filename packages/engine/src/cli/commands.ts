/** One handler per CLI command; each prints text or one JSON document. */
import { hostname } from "node:os";
import { Repository } from "../repository";
import { backup, type BackupProgress } from "../backup/backup";
import { Prescan } from "../backup/prescan";
import { restore } from "../restore/restore";
import { restoreVolume } from "../restore/volume";
import { check } from "../check";
import { repoStats } from "../stats";
import { diffTrees } from "../diff";
import { listTree, splitPointRef } from "../ls";
import { rebuildIndex } from "../index/rebuild";
import { applyRetention, isEmptyPolicy, parseDuration, type RetentionPolicy } from "../retention";
import { prune, type PruneOptions, type PruneReport } from "../prune";
import { bytes, duration, openStore, ProgressLine, readPassword, UsageError } from "./context";
import { formatBackupProgress, scanTotals } from "./progress";
import type { CliValues } from "./main";

type Handler = (args: string[], v: CliValues) => Promise<number>;

export const HELP = `usage: tidemark <command> --repo DIR|azure://CONTAINER [options]

  init                      create a repository (--chunk-min/avg/max BYTES, --pack-size MiB)
  backup PATH...            back up files and directories (--host, --tag, --parent ID|none, --volume IMAGE|DEVICE)
  points                    list recovery points
  ls POINT[:path]           list a point's files (POINT: id, prefix or "latest")
  restore POINT[:path]      restore into --target DIR  (--volume NAME --target FILE|DEVICE for an image);
                            --verify-ids also recomputes each chunk's id (the GCM tag is always checked)
  diff A B                  what changed between two points
  check                     verify structure; --read-data [--subset P%] reads packs
  forget [POINT...] --keep-… remove points (explicit, or GFS: --keep-last/within/hourly/daily/weekly/monthly/yearly) [--prune] [--dry-run]
  prune                     mark unreferenced packs; delete those marked longer than --grace (default 24h, e.g. 0h, 2d)
  stats                     logical vs stored bytes, dedup ratio, chunk and pack counts
  rebuild-index [--all]     index packs from their own trailers (unindexed ones, or --all)

  password: TIDEMARK_PASSWORD or --password-file FILE;  --json for machine output
`;

const out = (v: CliValues, json: unknown, text: () => string) => {
  process.stdout.write(v.json ? `${JSON.stringify(json, null, 2)}\n` : text());
};

const opened: Repository[] = [];

async function openRepo(v: CliValues): Promise<Repository> {
  const password = await readPassword(v);
  const repo = await Repository.open(await openStore(v.repo), { password });
  opened.push(repo);
  return repo;
}

/** Stops encoder workers so the process can exit. */
export async function closeRepositories(): Promise<void> {
  await Promise.all(opened.splice(0).map((r) => r.close()));
}

function intOpt(v: CliValues, name: keyof CliValues): number | undefined {
  const raw = v[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${String(name)} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return n;
}

const init: Handler = async (_args, v) => {
  const password = await readPassword(v);
  const store = await openStore(v.repo, true);
  const min = intOpt(v, "chunk-min");
  const avg = intOpt(v, "chunk-avg");
  const max = intOpt(v, "chunk-max");
  const packMiB = intOpt(v, "pack-size");
  const chunker = avg || min || max ? { min: min ?? (avg ?? 1 << 20) / 2, avg: avg ?? 1 << 20, max: max ?? (avg ?? 1 << 20) * 8 } : undefined;
  let repo: Repository;
  try {
    repo = await Repository.init(store, { password }, { ...(chunker ? { chunker } : {}), ...(packMiB ? { packSize: packMiB * 1024 * 1024 } : {}) });
  } catch (e) {
    if (e instanceof Error && /chunker|pack/i.test(e.message) && !(e.name === "RepositoryError")) throw new UsageError(e.message);
    throw e;
  }
  out(v, { id: repo.config.id, repo: store.description, config: repo.config }, () => `created repository ${repo.config.id} at ${store.description}\n`);
  return 0;
};

const backupCmd: Handler = async (args, v) => {
  if (args.length === 0 && !v.volume?.length) throw new UsageError("backup needs at least one PATH (or --volume IMAGE)");
  // Deriving the key (scrypt, in the thread pool) leaves this thread idle for ~0.2–0.4 s: list and lstat meanwhile.
  const prescan = args.length ? new Prescan(args) : undefined;
  const repo = await openRepo(v).catch((e: unknown) => {
    prescan?.stop();
    throw e;
  });
  const progress = new ProgressLine();
  const started = Date.now();
  const stopScan = new AbortController();
  const scan = progress.enabled ? scanTotals(args, stopScan.signal) : { files: 0, bytes: 0, done: false };
  let volumes;
  if (v.volume?.length) {
    const { backupVolumes } = await import("../backup/volume");
    volumes = await backupVolumes(repo, v.volume, { host: v.host ?? hostname() });
  }
  const r = await backup(repo, {
    paths: args,
    ...(v.host ? { host: v.host } : {}),
    ...(v.tag ? { tags: v.tag } : {}),
    ...(v.parent ? { parent: v.parent } : {}),
    ...(volumes ? { volumes } : {}),
    ...(prescan ? { prescan } : {}),
    // Not on a terminal nothing is shown: no formatting either (toLocaleString loads ICU data, ~30 ms).
    ...(progress.enabled ? { onProgress: (p: BackupProgress) => progress.update(formatBackupProgress(p, scan, (Date.now() - started) / 1000)) } : {}),
  }).finally(() => {
    stopScan.abort();
    prescan?.stop();
  });
  progress.done();
  const s = r.snapshot.stats;
  out(v, { id: r.id, snapshot: r.snapshot }, () =>
    [
      ...r.snapshot.errors.map((e) => `warning: could not read ${e.path}: ${e.error}\n`),
      `recovery point ${r.id.slice(0, 12)} saved: ${s.files} files, ${s.dirs} dirs, ${bytes(s.bytes)} (${bytes(s.readBytes)} read, ${bytes(s.newBytes)} new, ${bytes(s.storedBytes)} stored) in ${duration(s.durationMs / 1000)}\n`,
    ].join(""),
  );
  return r.snapshot.errors.length ? 3 : 0;
};

const points: Handler = async (_args, v) => {
  const repo = await openRepo(v);
  const all = await repo.listSnapshots();
  out(v, all.map(({ id, snapshot }) => ({ id, ...snapshot })), () =>
    all.length === 0
      ? "no recovery points\n"
      : all.map(({ id, snapshot: s }) => `${id.slice(0, 12)}  ${s.time}  ${s.host}  ${bytes(s.stats.bytes).padStart(10)}  ${s.paths.join(" ")}${s.volumes.length ? `  volumes: ${s.volumes.map((x) => x.name).join(" ")}` : ""}\n`).join(""),
  );
  return 0;
};

const ls: Handler = async (args, v) => {
  if (args.length !== 1) throw new UsageError("ls needs exactly one POINT[:path]");
  const repo = await openRepo(v);
  const { point, path } = splitPointRef(args[0]!);
  const snap = await repo.resolveSnapshot(point);
  const rows: Array<{ path: string; type: string; mode: number; size: number; mtime: string; target?: string }> = [];
  for await (const { path: p, node } of listTree(repo, snap.snapshot.tree, path)) {
    rows.push({ path: p, type: node.type, mode: node.mode, size: node.size, mtime: new Date(Number(BigInt(node.mtimeNs) / 1000000n)).toISOString(), ...(node.target !== undefined ? { target: node.target } : {}) });
  }
  out(v, rows, () => rows.map((r) => `${r.type.padEnd(7)} ${(r.mode & 0o7777).toString(8).padStart(4, "0")} ${String(r.size).padStart(12)}  ${r.mtime}  ${r.path}${r.target !== undefined ? ` -> ${r.target}` : ""}\n`).join(""));
  return 0;
};

const restoreCmd: Handler = async (args, v) => {
  if (args.length !== 1) throw new UsageError("restore needs exactly one POINT[:path]");
  if (!v.target) throw new UsageError("restore needs --target DIR (or FILE/DEVICE with --volume)");
  const repo = await openRepo(v);
  const { point, path } = splitPointRef(args[0]!);
  const snap = await repo.resolveSnapshot(point);
  if (v.volume?.length) {
    if (v.volume.length !== 1) throw new UsageError("restore takes one --volume NAME at a time");
    const r = await restoreVolume(repo, snap.snapshot, v.volume[0]!, v.target);
    out(v, { point: snap.id, ...r }, () =>
      [...r.failures.map((f) => `error: block ${f.block}: ${f.error}\n`), `restored volume ${v.volume![0]} (${bytes(r.bytes)}, ${r.holes} holes) into ${v.target}${r.failures.length ? `; ${r.failures.length} blocks FAILED` : ""}\n`].join(""),
    );
    return r.failures.length ? 1 : 0;
  }
  const progress = new ProgressLine();
  const started = Date.now();
  const r = await restore(repo, snap, {
    target: v.target,
    ...(path ? { path } : {}),
    ...(v["verify-ids"] ? { recheckIds: true } : {}),
    onProgress: (p) => {
      const secs = (Date.now() - started) / 1000;
      const rate = p.bytes / Math.max(secs, 0.001);
      progress.update(`${p.files}/${p.totalFiles} files, ${bytes(p.bytes)}/${bytes(p.totalBytes)}, ${bytes(rate)}/s, ETA ${duration((p.totalBytes - p.bytes) / Math.max(rate, 1))}`);
    },
  });
  progress.done();
  out(v, { point: snap.id, ...r }, () =>
    [
      ...r.failures.map((f) => `error: ${f.path}: ${f.error}\n`),
      `restored ${r.files} files, ${r.dirs} dirs, ${r.symlinks} symlinks, ${bytes(r.bytes)} into ${v.target}${r.failures.length ? `; ${r.failures.length} FAILED (listed above)` : ""}\n`,
    ].join(""),
  );
  return r.failures.length ? 1 : 0;
};

const diff: Handler = async (args, v) => {
  if (args.length !== 2) throw new UsageError("diff needs two points: A B");
  const repo = await openRepo(v);
  const a = await repo.resolveSnapshot(args[0]!);
  const b = await repo.resolveSnapshot(args[1]!);
  const d = await diffTrees(repo, a.snapshot.tree, b.snapshot.tree);
  out(v, d, () => (d.length ? d.map((e) => `${e.change}  ${e.path}\n`).join("") : "no differences\n"));
  return 0;
};

const checkCmd: Handler = async (_args, v) => {
  let subsetPercent: number | undefined;
  if (v.subset !== undefined) {
    const m = /^(\d+(?:\.\d+)?)%?$/.exec(v.subset);
    if (!m || Number(m[1]) <= 0 || Number(m[1]) > 100) throw new UsageError(`--subset must be a percentage in (0, 100], got ${JSON.stringify(v.subset)}`);
    if (!v["read-data"]) throw new UsageError("--subset only makes sense with --read-data");
    subsetPercent = Number(m[1]);
  }
  const repo = await openRepo(v);
  const progress = new ProgressLine();
  const r = await check(repo, { readData: Boolean(v["read-data"]), ...(subsetPercent !== undefined ? { subsetPercent } : {}), onProgress: (d, t) => progress.update(`read ${d}/${t} packs`) });
  progress.done();
  out(v, r, () => {
    const lines = [`checked ${r.snapshots} points, ${r.trees} trees, ${r.packs} packs${v["read-data"] ? ` (${r.packsRead} read)` : ""}\n`];
    if (r.unindexedPacks.length) lines.push(`note: ${r.unindexedPacks.length} unindexed packs (interrupted backup?); prune removes them\n`);
    for (const p of r.damagedPacks) lines.push(`DAMAGED pack ${p.pack}: ${p.reason}\n`);
    for (const c of r.damagedChunks) lines.push(`DAMAGED chunk ${c.chunk}${c.pack ? ` (pack ${c.pack})` : ""}: ${c.reason}\n`);
    for (const c of r.damagedCopies) lines.push(`damaged copy of chunk ${c.chunk} (pack ${c.pack}): ${c.reason} — another copy verified, no file affected\n`);
    for (const a of r.affected) for (const p of a.paths) lines.push(`AFFECTED point ${a.snapshot.slice(0, 12)} (${a.time}, ${a.host}): ${p}\n`);
    for (const e of r.errors.filter((e) => e.startsWith("recovery point"))) lines.push(`ERROR ${e}\n`);
    lines.push(r.ok ? "no errors found\n" : `${r.errors.length} errors found\n`);
    return lines.join("");
  });
  return r.ok ? 0 : 1;
};

const stats: Handler = async (_args, v) => {
  const repo = await openRepo(v);
  const s = await repoStats(repo);
  out(v, s, () =>
    [
      `points:         ${s.points}\n`,
      `logical bytes:  ${bytes(s.logicalBytes)}\n`,
      `unique bytes:   ${bytes(s.uniqueBytes)}\n`,
      `stored bytes:   ${bytes(s.storedBytes)}\n`,
      `dedup ratio:    ${s.dedupRatio.toFixed(2)}x\n`,
      `chunks:         ${s.chunks} (+${s.trees} trees)\n`,
      `packs:          ${s.packs}\n`,
    ].join(""),
  );
  return 0;
};

function durationOpt(v: CliValues, name: "keep-within" | "grace"): number | undefined {
  const raw = v[name];
  if (raw === undefined) return undefined;
  try {
    return parseDuration(raw);
  } catch (e) {
    throw new UsageError(`--${name}: ${(e as Error).message}`);
  }
}

function pruneOpts(v: CliValues): PruneOptions {
  const grace = durationOpt(v, "grace");
  return { ...(grace !== undefined ? { graceMs: grace } : {}), ...(v["dry-run"] ? { dryRun: true } : {}) };
}

function pruneText(r: PruneReport): string {
  return (
    `prune: ${r.points} points use ${r.usedBlobs} blobs in ${r.packs} packs; ` +
    `${r.condemned.length} packs marked for deletion, ${r.repacked.length} repacked, ${r.deleted.length + r.unindexedDeleted.length} deleted (${bytes(r.reclaimedBytes)} reclaimed)\n`
  );
}

const forget: Handler = async (args, v) => {
  const policy: RetentionPolicy = {};
  const n = (k: "keep-last" | "keep-hourly" | "keep-daily" | "keep-weekly" | "keep-monthly" | "keep-yearly") => intOpt(v, k);
  const set = <K extends keyof RetentionPolicy>(k: K, val: RetentionPolicy[K] | undefined) => {
    if (val !== undefined) policy[k] = val;
  };
  set("last", n("keep-last"));
  set("within", durationOpt(v, "keep-within"));
  set("hourly", n("keep-hourly"));
  set("daily", n("keep-daily"));
  set("weekly", n("keep-weekly"));
  set("monthly", n("keep-monthly"));
  set("yearly", n("keep-yearly"));
  if (isEmptyPolicy(policy) && args.length === 0) throw new UsageError("forget needs --keep-… rules or explicit POINT ids");
  const repo = await openRepo(v);
  const all = await repo.listSnapshots();
  let remove: string[];
  let keep: Array<{ id: string; reasons: string[] }> = [];
  if (args.length) {
    remove = [];
    for (const ref of args) remove.push((await repo.resolveSnapshot(ref)).id);
  } else {
    const d = applyRetention(
      all.map(({ id, snapshot: s }) => ({ id, time: s.time, host: s.host, paths: s.paths })),
      policy,
    );
    remove = d.remove;
    keep = d.keep;
  }
  if (!v["dry-run"]) for (const id of remove) await repo.deleteSnapshot(id);
  let pruned: PruneReport | undefined;
  if (v.prune && !v["dry-run"]) pruned = await prune(repo, pruneOpts(v));
  out(v, { keep, remove, dryRun: Boolean(v["dry-run"]), ...(pruned ? { prune: pruned } : {}) }, () =>
    [
      ...keep.map((k) => `keep    ${k.id.slice(0, 12)}  (${k.reasons.join(", ")})\n`),
      ...remove.map((id) => `${v["dry-run"] ? "would remove" : "removed"} ${id.slice(0, 12)}\n`),
      pruned ? pruneText(pruned) : "",
    ].join(""),
  );
  return 0;
};

const pruneCmd: Handler = async (_args, v) => {
  const repo = await openRepo(v);
  const r = await prune(repo, pruneOpts(v));
  out(v, r, () => pruneText(r));
  return 0;
};

const rebuildIndexCmd: Handler = async (_args, v) => {
  const repo = await openRepo(v);
  const r = await rebuildIndex(repo, { all: Boolean(v.all) });
  out(v, r, () =>
    [
      ...r.unreadable.map((u) => `unreadable pack ${u.pack}: ${u.reason}\n`),
      `read ${r.packsRead} packs, indexed ${r.indexed}${r.indexObjectsRemoved ? `, replaced ${r.indexObjectsRemoved} index objects` : ""}\n`,
    ].join(""),
  );
  return r.unreadable.length ? 1 : 0;
};

export const COMMANDS: Record<string, Handler> = {
  "rebuild-index": rebuildIndexCmd,
  forget,
  prune: pruneCmd,
  init,
  backup: backupCmd,
  points,
  snapshots: points,
  ls,
  restore: restoreCmd,
  diff,
  check: checkCmd,
  stats,
};
