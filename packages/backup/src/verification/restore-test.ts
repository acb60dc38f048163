/**
 * Verified recovery: a recovery point restored into scratch space the way a
 * technician would restore it, every file read chunk by chunk through the
 * service's index (GCM tag + keyed id checked on every chunk), written out,
 * and its size compared with the tree; volume images are written out and
 * checked by the filesystem's own tool (`e2fsck -fn` for ext2/3/4, `ntfsfix
 * -n` for NTFS). The scratch copy is removed afterwards. The result is kept
 * (restore_tests) and a failure raises a critical alert for the machine.
 *
 * Scratch space is bounded by the largest single file, not the point: each
 * file is removed once checked. A file or image larger than the free scratch
 * space (or a disk that fills up meanwhile) is still read and verified in
 * full, only not written — a full worker disk must not turn into a "restore
 * test failed" alert about a backup that is whole. The result says so.
 */
import { execFile } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir, open, rm, stat, statfs } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import { schema, scopeToCustomer } from "@tidemark/db";
import type { RestoreTestFinding } from "@tidemark/db/schema";
import { and, count, desc, eq } from "drizzle-orm";
import { PointFiles } from "../browse";
import { BLOB_DATA, loadVolumeMap, restoreVolume } from "../engine";
import { readBlobs } from "@tidemark/engine";
import { notFound } from "../errors";
import type { CustomerRepo } from "./context";
import { pgRepository } from "./pg-repository";

export type FsCheck = { volume: string; tool: string; ok: boolean; output: string };
export type RestoreTestRecord = typeof schema.restoreTests.$inferSelect;

export type RestoreTestOptions = {
  trigger: "schedule" | "manual";
  /** A specific point; otherwise the latest, or (every `olderEvery`-th run) a random older one. */
  pointId?: string;
  /** Scratch space (under the data dir); a per-test folder is made inside and removed afterwards. */
  scratchRoot: string;
  olderEvery?: number;
  random?: () => number;
  /** Filesystem checkers; null = not installed. Defaults: looked up on PATH and in /sbin, /usr/sbin. */
  tools?: { e2fsck?: string | null; ntfsfix?: string | null };
  /** Free bytes where `dir` lives (default: statfs). Injectable because a test cannot fill the real disk. */
  scratchFree?: (dir: string) => Promise<number>;
};

const statfsFree = async (dir: string) => {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
};
/** Kept free for everyone else on the worker's disk. */
const SCRATCH_RESERVE = 64 * 1024 * 1024;
const isDiskFull = (e: unknown) => ["ENOSPC", "EDQUOT"].includes((e as NodeJS.ErrnoException).code ?? "") || /disk full/.test((e as Error).message);

/** Findings stop being recorded past this (a point with a lost subtree would list every file). */
const MAX_FINDINGS = 200;
const FS_CHECK_TIMEOUT_MS = 15 * 60_000;

async function pickPoint(repo: CustomerRepo, machineId: string, opts: RestoreTestOptions) {
  const rp = schema.recoveryPoints;
  const cols = { id: rp.id, time: rp.time, manifest: rp.manifest, health: rp.health };
  if (opts.pointId) {
    const [p] = await repo.db
      .select(cols)
      .from(rp)
      .where(and(scopeToCustomer(rp, repo.scope), eq(rp.machineId, machineId), eq(rp.id, opts.pointId)));
    if (!p) throw notFound("Recovery point");
    return p;
  }
  const points = await repo.db
    .select(cols)
    .from(rp)
    .where(and(scopeToCustomer(rp, repo.scope), eq(rp.machineId, machineId)))
    .orderBy(desc(rp.time))
    .limit(500);
  if (points.length === 0) return null;
  const rt = schema.restoreTests;
  const [{ runs } = { runs: 0 }] = await repo.db
    .select({ runs: count() })
    .from(rt)
    .where(and(scopeToCustomer(rt, repo.scope), eq(rt.machineId, machineId)));
  const every = opts.olderEvery ?? 4;
  // Latest by default; every n-th run an older point, so old points are proven restorable too.
  if (points.length > 1 && (runs + 1) % every === 0) {
    const older = points.slice(1);
    return older[Math.floor((opts.random ?? Math.random)() * older.length)]!;
  }
  return points[0]!;
}

function which(tool: string): Promise<string | null> {
  const candidates = [...(process.env.PATH ?? "").split(":"), "/sbin", "/usr/sbin"].filter(Boolean).map((d) => join(d, tool));
  return (async () => {
    for (const c of candidates) {
      try {
        if ((await stat(c)).isFile()) return c;
      } catch {
        // not here
      }
    }
    return null;
  })();
}

/** What filesystem an image holds, from its superblock magic. */
export async function detectFilesystem(path: string): Promise<"ext" | "ntfs" | null> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(2048);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    if (bytesRead >= 11 && buf.subarray(3, 11).toString("latin1") === "NTFS    ") return "ntfs";
    // ext2/3/4: superblock at 1024, s_magic (0xEF53, little-endian) at offset 56 within it.
    if (bytesRead >= 1082 && buf.readUInt16LE(1024 + 56) === 0xef53) return "ext";
    return null;
  } finally {
    await fh.close();
  }
}

function run(cmd: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: FS_CHECK_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, output: `${stdout}${stderr}`.slice(-4000) });
    });
  });
}

/** Runs the filesystem's own read-only check on a restored image; a missing tool is reported, not failed. */
export async function checkFilesystem(volume: string, image: string, tools: RestoreTestOptions["tools"] = {}): Promise<{ check: FsCheck | null; finding: RestoreTestFinding | null }> {
  const fs = await detectFilesystem(image);
  if (!fs) return { check: null, finding: null };
  if (fs === "ext") {
    const bin = tools.e2fsck === undefined ? await which("e2fsck") : tools.e2fsck;
    if (!bin) return { check: { volume, tool: "e2fsck -fn", ok: true, output: "skipped: e2fsck is not installed" }, finding: { path: volume, problem: "skipped: ext filesystem not checked (e2fsck is not installed on the worker)" } };
    // -f: check even if marked clean; -n: open read-only and answer "no" to every fix. Exit 0 = clean.
    const r = await run(bin, ["-fn", image]);
    return { check: { volume, tool: "e2fsck -fn", ok: r.code === 0, output: r.output }, finding: r.code === 0 ? null : { path: volume, problem: `e2fsck -fn found problems (exit ${r.code})` } };
  }
  const bin = tools.ntfsfix === undefined ? await which("ntfsfix") : tools.ntfsfix;
  if (!bin) return { check: { volume, tool: "ntfsfix -n", ok: true, output: "skipped: ntfs-3g (ntfsfix) is not installed" }, finding: { path: volume, problem: "skipped: NTFS filesystem not checked (ntfsfix is not installed on the worker)" } };
  const r = await run(bin, ["-n", image]);
  return { check: { volume, tool: "ntfsfix -n", ok: r.code === 0, output: r.output }, finding: r.code === 0 ? null : { path: volume, problem: `ntfsfix -n found problems (exit ${r.code})` } };
}

type Manifest = { rootTree?: string; volumes?: Array<{ source: string; name: string; size: number; blockSize: number; map: string }> };

/** Runs one restore test of a machine. Returns null when the machine has no recovery point yet. */
export async function runRestoreTest(repo: CustomerRepo, machineId: string, opts: RestoreTestOptions): Promise<RestoreTestRecord | null> {
  const { db, scope } = repo;
  const point = await pickPoint(repo, machineId, opts);
  if (!point) return null;
  const rt = schema.restoreTests;
  const [row] = await db.insert(rt).values({ ...scope, machineId, recoveryPointId: point.id, trigger: opts.trigger }).returning();
  const started = Date.now();
  const dir = join(opts.scratchRoot, `restore-test-${row!.id}`);
  const findings: RestoreTestFinding[] = [];
  let failures = 0;
  const fail = (f: RestoreTestFinding) => {
    failures++;
    if (findings.length < MAX_FINDINGS) findings.push(f);
  };
  const fsChecks: FsCheck[] = [];
  let files = 0;
  let bytes = 0;
  const m = point.manifest as Manifest;
  const scratchFree = opts.scratchFree ?? statfsFree;
  // Verified in full but not written for lack of scratch space (reported, not a failure).
  const unwritten = { files: 0, bytes: 0, volumes: [] as string[] };
  try {
    await mkdir(dir, { recursive: true });
    const free = await scratchFree(dir).catch(() => Number.POSITIVE_INFINITY);
    if (m.rootTree) {
      const reader = new PointFiles(db, repo.store, repo.keys, scope);
      /** Every chunk read and verified, nothing written. */
      const readOnly = async (node: Parameters<typeof reader.read>[0]) => {
        let n = 0;
        for await (const c of reader.read(node)) n += c.length;
        unwritten.files++;
        unwritten.bytes += n;
        return n;
      };
      const root = join(dir, "files");
      await mkdir(root, { recursive: true });
      try {
        for await (const { entry, node } of reader.walk(m.rootTree, "")) {
          const target = join(root, ...entry.path.split("/"));
          if (node.type === "dir") {
            await mkdir(target, { recursive: true });
            continue;
          }
          if (node.type !== "file") continue;
          try {
            let size: number;
            if (node.size + SCRATCH_RESERVE > free) size = await readOnly(node);
            else {
              try {
                await pipeline(Readable.from(reader.read(node)), createWriteStream(target));
                size = (await stat(target)).size;
              } catch (e) {
                if (!isDiskFull(e)) throw e;
                size = await readOnly(node);
              } finally {
                // Checked: free its space, so scratch only ever holds one file.
                await rm(target, { force: true });
              }
            }
            if (size !== node.size) fail({ path: entry.path, problem: `restored ${size} bytes, the tree records ${node.size}` });
            else {
              files++;
              bytes += size;
            }
          } catch (e) {
            fail({ path: entry.path, problem: (e as Error).message });
          }
        }
      } catch (e) {
        // A directory listing (tree) that does not read: everything below it is lost for this point.
        fail({ problem: `the point's directory tree could not be read: ${(e as Error).message}` });
      }
    }
    if (m.volumes && m.volumes.length > 0) {
      const { repository, loadIds } = pgRepository(repo);
      await mkdir(join(dir, "volumes"), { recursive: true });
      for (const [i, v] of m.volumes.entries()) {
        const image = join(dir, "volumes", `${i}.img`);
        try {
          // The engine's own restorer looks blocks up synchronously: load the map's ids first.
          const blocks = await loadVolumeMap(repository, v.map);
          await loadIds(blocks.flatMap((b) => (b.id ? [b.id] : [])));
          let r: { bytes: number; failures: Array<{ error: string }> };
          if (v.size + SCRATCH_RESERVE > (await scratchFree(dir).catch(() => free))) r = await verifyVolumeBlocks(repository, blocks, v.size);
          else {
            try {
              r = await restoreVolume(repository, { volumes: m.volumes } as never, v.source, image, { concurrency: 4 });
            } catch (e) {
              if (!isDiskFull(e)) throw e;
              await rm(image, { force: true });
              r = await verifyVolumeBlocks(repository, blocks, v.size);
            }
          }
          if ("unwritten" in r) unwritten.volumes.push(v.name);
          if (r.failures.length > 0) {
            fail({ path: `[volume image] ${v.name}`, problem: `${r.failures.length} block(s) did not restore: ${r.failures[0]!.error}` });
            continue;
          }
          files++;
          bytes += r.bytes;
          if ("unwritten" in r) continue; // no image to check: the blocks themselves were verified
          const { check, finding } = await checkFilesystem(v.name, image, opts.tools);
          if (check) fsChecks.push(check);
          if (finding) {
            if (check && !check.ok) fail(finding);
            else if (findings.length < MAX_FINDINGS) findings.push(finding);
          }
        } catch (e) {
          fail({ path: `[volume image] ${v.name}`, problem: (e as Error).message });
        } finally {
          // Images can be as large as the volume: free the space before the next one.
          await rm(image, { force: true });
        }
      }
    }
  } catch (e) {
    fail({ problem: `restore test could not run: ${(e as Error).message}` });
  } finally {
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
  if (unwritten.files > 0 && findings.length < MAX_FINDINGS)
    findings.push({ problem: `${unwritten.files} file(s), ${unwritten.bytes} bytes, were read and verified but not written: not enough scratch space on the worker (not a backup problem)` });
  for (const name of unwritten.volumes)
    if (findings.length < MAX_FINDINGS) findings.push({ path: `[volume image] ${name}`, problem: "every block read and verified, but the image was not written and its filesystem not checked: not enough scratch space on the worker" });
  const state = failures === 0 ? "passed" : "failed";
  const [done] = await db
    .update(rt)
    .set({ state, finishedAt: new Date(), durationMs: Date.now() - started, files, bytes, fsChecks, findings })
    .where(and(scopeToCustomer(rt, scope), eq(rt.id, row!.id)))
    .returning();
  await alertOnResult(repo, machineId, point, done!, failures);
  return done!;
}

/** A volume's blocks read and verified without writing the image. */
async function verifyVolumeBlocks(repository: Parameters<typeof readBlobs>[0], blocks: Array<{ id: string | null }>, size: number) {
  const failures: Array<{ error: string }> = [];
  await readBlobs(repository, blocks.flatMap((b) => (b.id ? [b.id] : [])), BLOB_DATA, (_id, data) => {
    if (data instanceof Error) failures.push({ error: data.message });
  });
  return { bytes: size, failures, unwritten: true as const };
}

async function alertOnResult(repo: CustomerRepo, machineId: string, point: { id: string; time: Date }, test: RestoreTestRecord, failures: number) {
  const { db, scope } = repo;
  if (test.state === "passed") {
    await repo.alerts.resolve({ mspId: scope.mspId, condition: "restore_test_failed", subject: machineId });
    return;
  }
  const [names] = await db
    .select({ machine: schema.machines.name, customer: schema.customers.name })
    .from(schema.machines)
    .innerJoin(schema.customers, eq(schema.customers.id, schema.machines.customerId))
    .where(and(eq(schema.machines.id, machineId), scopeToCustomer(schema.machines, scope)));
  await repo.alerts.raise({
    ...scope,
    machineId,
    condition: "restore_test_failed",
    severity: "critical",
    subject: machineId,
    title: `Restore test failed for ${names?.machine ?? machineId} (${names?.customer ?? scope.customerId}): ${failures} problem(s)`,
    details: {
      customer: { id: scope.customerId, name: names?.customer },
      machine: { id: machineId, name: names?.machine },
      recoveryPoint: { id: point.id, time: point.time.toISOString() },
      restoreTestId: test.id,
      filesVerified: test.files,
      failures,
      findings: test.findings.slice(0, 20),
    },
  });
  repo.log(`verification: restore test ${test.id} of machine ${machineId} failed (${failures} problem(s))`);
}
