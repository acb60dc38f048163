/**
 * The service loop: capture (spooled points), upload (queue drain with
 * backoff), and the control channel (heartbeat, policy, events). A rejected
 * credential anywhere stops everything: the agent exits with code 3 and says
 * why in status.json.
 */
import { hostname, release, arch } from "node:os";
import { statfs } from "node:fs/promises";
import { join } from "node:path";
import { createAgentClient, CredentialRejectedError, isFatal, RetryableApiError, type AgentClient } from "@tidemark/agent-protocol";
import { backoffMs, sleep } from "./backoff";
import { Capture, type CaptureState } from "./capture";
import { EventBuffer } from "./events";
import { UploadQueue } from "./queue";
import { forgetIndex, openSpool } from "./spool";
import { StateDir, writePrivate, type MachineFile } from "./state";
import { DIRECT_PACKS_IN_FLIGHT, UploadTarget, Uploader } from "./uploader";
import { AGENT_VERSION } from "./version";
import { readFile } from "node:fs/promises";
import { z } from "zod";
import { formatCredential } from "@tidemark/agent-protocol";
import { Repository } from "./engine";
import { executeRestoreJob } from "./restore-job";
import { maintainSpool } from "./maintenance";

export interface RunOptions {
  stateDir: string;
  tickMs?: number;
  debounceMs?: number;
  heartbeatMs?: number;
  /** Spool maintenance after this many committed points (default 100). */
  maintainEvery?: number;
  /** Encoder workers for a point without a parent (default: the engine's, cores − 1). */
  encodeWorkers?: number;
  /** Decode worker threads for restore jobs (default: the engine's, by restore size). */
  decodeWorkers?: number;
  log?: (line: string) => void;
  fetch?: typeof fetch;
}

export const EXIT_FATAL = 3;

export function osInfo() {
  const p = process.platform;
  return { platform: p === "win32" || p === "linux" || p === "darwin" ? p : ("other" as const), release: release(), arch: arch() };
}

const captureStateSchema = z.object({
  lastSnapshotId: z.string().optional(),
  lastTree: z.string().optional(),
  lastVolumes: z.array(z.any()).optional(),
  lastVolumesAt: z.number().optional(),
});

export class Agent {
  private readonly state: StateDir;
  private readonly abort = new AbortController();
  private readonly log: (line: string) => void;
  private lastError: string | undefined;
  private lastPoint: { pointId: string; time: string; consistency: string } | undefined;
  private fatalError: Error | undefined;
  private machine!: MachineFile;
  private api!: AgentClient;
  private capture!: Capture;
  private uploader!: Uploader;
  private queue!: UploadQueue;
  private spoolBytes = 0;
  private spoolRepo!: Repository;
  private spoolStore!: import("@tidemark/storage").BlobStore;
  private restoring: Promise<void> | undefined;
  private pendingItems = 0;
  readonly events: EventBuffer;

  constructor(private readonly opts: RunOptions) {
    this.state = new StateDir(opts.stateDir);
    this.log = opts.log ?? ((l) => process.stderr.write(`${new Date().toISOString()} ${l}\n`));
    this.events = new EventBuffer(5000, this.log);
  }

  /** Runs until stop() or a fatal error; resolves with the process exit code. */
  async run(): Promise<number> {
    this.machine = await this.state.readMachine();
    // A folder enrolled by an older agent (or re-created by hand) is restricted before anything else runs.
    await this.state.secure();
    this.api = createAgentClient({
      serverUrl: this.machine.serverUrl,
      credential: formatCredential(this.machine.machineId, this.machine.machineSecret),
      // An initial point commits with every new chunk id (tens of thousands): the server checks
      // each against its index, which took over 30 s (the client's default) on a loaded box, and
      // the retry started the check again.
      timeoutMs: 120_000,
      ...(this.opts.fetch ? { fetch: this.opts.fetch } : {}),
    });
    this.queue = new UploadQueue(this.state.queueDir);
    await this.queue.ensure();
    const spool = await openSpool(this.state.spoolDir, this.machine, this.queue);
    this.spoolRepo = spool.repo;
    this.spoolStore = spool.store;
    const target = new UploadTarget(this.api);
    const captureState = await this.readCaptureState();
    this.uploader = new Uploader(spool.repo, spool.store, this.queue, this.api, target, {
      log: this.log,
      onCommitted: (pointId, snap) => {
        this.lastPoint = { pointId, time: snap.time, consistency: snap.consistency };
        this.events.add("info", "point-committed", `recovery point ${pointId} committed (${snap.consistency}-consistent, ${snap.stats.files} files, ${snap.errors.length} unreadable)`);
      },
      onDropped: (why) => {
        this.events.add("error", "error", why);
        // Force the next point even if nothing changes again: it must carry what the dropped one had.
        captureState.lastTree = undefined;
        this.capture.markFull();
      },
      onMissingChunks: async (missing) => {
        this.events.add("error", "error", `server refused a point: ${missing.length} chunk(s) not indexed; re-checking everything with the server`);
        await forgetIndex(spool.store);
        const reopened = await Repository.open(spool.repo.store, { kek: Buffer.from(this.machine.spoolKek, "base64") });
        this.capture.setRepository(reopened);
        captureState.lastSnapshotId = undefined;
        captureState.lastTree = undefined;
        this.capture.markFull();
      },
    });
    // Online, packs go straight from the engine's buffer to the container; the spool takes over when that fails.
    spool.setDirect(this.uploader);
    this.capture = new Capture(
      spool.repo,
      this.machine.policy,
      this.queue,
      this.events,
      {
        debounceMs: this.opts.debounceMs ?? 2000,
        host: this.machine.name,
        alwaysExclude: [this.opts.stateDir],
        log: this.log,
        volumeMapDir: join(this.opts.stateDir, "volume-maps"),
        onHeal: (ids) => this.uploader.forceUpload(ids),
        onPointQueued: (snapshotId) => this.uploader.pointQueued(snapshotId),
        uploads: DIRECT_PACKS_IN_FLIGHT,
        ...(this.opts.encodeWorkers !== undefined ? { encodeWorkers: this.opts.encodeWorkers } : {}),
      },
      captureState,
      (s) => writePrivate(join(this.opts.stateDir, "capture.json"), JSON.stringify(s)),
    );
    // Subscribing crawls the whole include tree (the inotify backend keeps its own copy): ~20 s for
    // /usr/share here. The first point does not wait for it, and the crawl waits for the first point
    // (it competed with it for the CPU); once the watch is up, a change made before then would have
    // gone unseen, so one more full walk (metadata only) follows.
    const watching = this.afterFirstPoint()
      .then(() => (this.abort.signal.aborted ? undefined : this.capture.watch()))
      .then(() => {
        if (this.capture.pointsStarted > 0) this.capture.markFull();
      })
      .catch((e: Error) => this.events.add("warn", "error", `change notifications unavailable: ${e.message}; relying on rescans`));
    this.events.add("info", "started", `agent ${AGENT_VERSION} started on ${hostname()}`);
    const onSignal = () => this.stop();
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    try {
      await Promise.all([this.captureLoop(), this.uploadLoop(), this.controlLoop()]);
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      await watching;
      await this.capture.unwatch();
      await this.capture.idle().catch(() => undefined);
      await this.restoring;
      await spool.repo.close();
      await this.writeStatus(this.fatalError ? "fatal" : "stopped").catch(() => undefined);
    }
    if (this.fatalError) {
      this.log(`FATAL: ${this.fatalError.message}`);
      return EXIT_FATAL;
    }
    return 0;
  }

  stop(): void {
    this.abort.abort();
  }

  /** Resolves once the first point since start has been taken (or failed), or on stop. */
  private async afterFirstPoint(): Promise<void> {
    while (!this.abort.signal.aborted && (this.capture.pointsStarted === 0 || this.capture.busy)) await sleep(100, this.abort.signal);
  }

  private fatal(e: Error) {
    this.fatalError ??= e;
    this.lastError = `credential rejected by the server: ${e.message} (re-enroll this machine)`;
    this.stop();
  }

  private async readCaptureState(): Promise<CaptureState> {
    try {
      return captureStateSchema.parse(JSON.parse(await readFile(join(this.opts.stateDir, "capture.json"), "utf8"))) as CaptureState;
    } catch {
      return {};
    }
  }

  private async captureLoop() {
    const tick = this.opts.tickMs ?? 250;
    while (!this.abort.signal.aborted) {
      this.capture.tick(this.spoolBytes);
      await sleep(tick, this.abort.signal);
    }
  }

  private async uploadLoop() {
    let attempt = 0;
    while (!this.abort.signal.aborted) {
      try {
        const p = await this.uploader.pending();
        this.spoolBytes = p.bytes;
        this.pendingItems = p.items;
        if (p.items > 0) {
          await this.uploader.drain(this.abort.signal);
          // A point being taken has saved its snapshot but not yet queued it: never trim then.
          if (!this.capture.busy) await this.trimSpoolSnapshots();
          if (this.uploader.stats.pointsCommitted - this.committedAtMaintenance >= (this.opts.maintainEvery ?? 100)) await this.maintain();
        }
        attempt = 0;
        await sleep(this.opts.tickMs ?? 250, this.abort.signal);
      } catch (e) {
        if (isFatal(e)) return this.fatal(e as Error);
        this.lastError = (e as Error).message;
        const wait = e instanceof RetryableApiError && e.retryAfterMs !== undefined ? e.retryAfterMs : backoffMs(attempt++, { baseMs: 500, maxMs: 30_000 });
        if (attempt <= 1 || attempt % 5 === 0) this.events.add("warn", "upload-retry", `upload paused (${(e as Error).message.slice(0, 300)}); retrying in ${Math.round(wait / 1000)} s`);
        await sleep(wait, this.abort.signal);
      }
    }
  }

  private committedAtMaintenance = 0;

  private async maintain() {
    this.committedAtMaintenance = this.uploader.stats.pointsCommitted;
    await this.capture.hold(async () => {
      const queued = await this.queue.list();
      const keep = new Set(queued.flatMap(({ item }) => (item.kind === "point" ? [item.snapshotId] : [])));
      if (this.capture.state.lastSnapshotId) keep.add(this.capture.state.lastSnapshotId);
      const packs = new Set(queued.flatMap(({ item }) => (item.kind === "pack" ? [item.packId] : [])));
      const present = new Set(await this.spoolRepo.snapshotIds());
      const r = await maintainSpool(this.spoolRepo, this.spoolStore, [...keep].filter((id) => present.has(id)), packs);
      this.log(`spool maintenance: ${r.treePacksDeleted} tree pack(s) trimmed, ${r.indexObjectsMerged} index object(s) merged`);
    });
  }

  private async trimSpoolSnapshots() {
    const keep = new Set<string>();
    if (this.capture.state.lastSnapshotId) keep.add(this.capture.state.lastSnapshotId);
    for (const { item } of await this.queue.list()) if (item.kind === "point") keep.add(item.snapshotId);
    for (const id of await this.spoolRepo.snapshotIds()) if (!keep.has(id)) await this.spoolRepo.deleteSnapshot(id);
  }

  private async controlLoop() {
    const every = this.opts.heartbeatMs ?? 30_000;
    let attempt = 0;
    while (!this.abort.signal.aborted) {
      let wait = every;
      try {
        await this.heartbeat();
        await this.events.flush(this.api);
        if (!this.restoring) await this.pollRestore();
        attempt = 0;
      } catch (e) {
        if (isFatal(e)) return this.fatal(e as Error);
        this.lastError = (e as Error).message;
        wait = Math.min(every, backoffMs(attempt++, { baseMs: 1000, maxMs: every }));
      }
      await this.writeStatus("running").catch(() => undefined);
      await sleep(wait, this.abort.signal);
    }
  }

  /** One restore at a time, in the background: capture and upload go on meanwhile. */
  private async pollRestore() {
    const job = await this.api.nextRestoreJob();
    if (!job) return;
    this.events.add("info", "restore", `restore job ${job.id} started: ${job.paths.length ? job.paths.join(", ") : "whole point"} → ${job.destination.kind === "original" ? "original location" : job.destination.path} (${job.conflict})`);
    this.restoring = (async () => {
      const r = await executeRestoreJob(job, this.spoolStore, Buffer.from(this.machine.spoolKek, "base64"), this.api, this.log, new Date(), {
        ...(this.opts.decodeWorkers !== undefined ? { decodeWorkers: this.opts.decodeWorkers } : {}),
      });
      for (const f of r.failed.slice(0, 100)) this.events.add("warn", "restore", `restore could not write: ${f.error}`, f.path);
      // The result must reach the server: retry until it does (or the credential is refused).
      for (let attempt = 0; !this.abort.signal.aborted; attempt++) {
        try {
          await this.api.restoreResult(job.id, { ok: r.ok, restoredFiles: r.restoredFiles, failed: r.failed.slice(0, 100_000) });
          break;
        } catch (e) {
          if (isFatal(e)) return this.fatal(e as Error);
          if (!(e as { retryable?: boolean }).retryable) {
            this.events.add("error", "restore", `restore result for ${job.id} refused: ${(e as Error).message}`);
            break;
          }
          await sleep(backoffMs(attempt), this.abort.signal);
        }
      }
      this.events.add("info", "restore", `restore job ${job.id} finished: ${r.restoredFiles} file(s) restored, ${r.skipped} skipped, ${r.failed.length} failed`);
    })()
      .catch((e) => this.events.add("error", "restore", `restore job ${job.id} crashed: ${(e as Error).message}`))
      .finally(() => (this.restoring = undefined));
  }

  private async heartbeat() {
    const vols = await volumesInfo(this.machine.policy.includePaths);
    const hb = await this.api.heartbeat({
      agentVersion: AGENT_VERSION,
      os: osInfo(),
      hostname: hostname(),
      volumes: vols,
      freeBytes: vols.reduce((a, v) => a + v.freeBytes, 0),
      pendingChanges: this.capture.pendingChanges + this.pendingItems,
      ...(this.lastError ? { lastError: this.lastError.slice(0, 4000) } : {}),
    });
    this.lastError = undefined;
    if (hb.healChunkIds.length) this.capture.requestHeal(hb.healChunkIds);
    if (hb.policyEtag !== this.machine.policyEtag) {
      const p = await this.api.getPolicy(this.machine.policyEtag);
      if (p) {
        this.machine = { ...this.machine, policy: p.policy, policyEtag: p.etag };
        await this.state.writeMachine(this.machine);
        await this.capture.setPolicy(p.policy);
        this.log(`policy updated (${p.etag})`);
      }
    }
  }

  private async writeStatus(state: "running" | "stopped" | "fatal") {
    await this.state.writeStatus({
      pid: process.pid,
      updatedAt: new Date().toISOString(),
      state,
      ...(this.lastPoint ? { lastPoint: this.lastPoint } : {}),
      pendingUploads: this.pendingItems,
      pendingBytes: this.spoolBytes,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    });
  }
}

async function volumesInfo(paths: string[]) {
  const out: Array<{ path: string; sizeBytes: number; freeBytes: number }> = [];
  const seen = new Set<string>();
  for (const p of paths.length ? paths : ["/"]) {
    try {
      const s = await statfs(p);
      const key = `${s.type}:${s.blocks}:${s.bfree}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ path: p, sizeBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize });
    } catch {
      // a missing include path has no volume to report
    }
  }
  return out;
}

export { CredentialRejectedError };
