/**
 * When to take a point, and taking it. OS change events (via @parcel/watcher)
 * mark the capture dirty; a point is taken once changes have settled
 * (debounce) or have kept coming for rpoSeconds, and never sooner than
 * rpoSeconds after the previous one. A periodic rescan (and the start) takes
 * one regardless, catching anything the events missed: every point walks the
 * sources, but only files whose size/mtime/inode changed are read (the
 * engine's parent reuse), so a walk costs metadata, not data.
 */
import { stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import type { Policy } from "@tidemark/agent-protocol";
import { backup, backupVolumes, type Repository, type Snapshot } from "./engine";
import type { EventBuffer } from "./events";
import { runHook } from "./hooks";
import { expandSources, isUnder } from "./paths";
import type { UploadQueue } from "./queue";
import { newClientPointId } from "./uploader";

export interface CaptureOptions {
  debounceMs: number;
  host: string;
  /** Always left out (the agent's own state dir would otherwise re-trigger itself). */
  alwaysExclude: string[];
  log: (line: string) => void;
}

export interface CaptureState {
  /** Spooled snapshot of the last point taken: the next point's parent. */
  lastSnapshotId?: string;
  lastTree?: string;
  lastVolumes?: Snapshot["volumes"];
  lastVolumesAt?: number;
}

type Subscription = { unsubscribe(): Promise<void> };

export class Capture {
  private dirtySince: number | undefined;
  private lastChange = 0;
  private lastPointAt = 0;
  private lastRescanAt = 0;
  private subs: Subscription[] = [];
  private running: Promise<void> | undefined;
  private spoolFullReported = false;
  changesSeen = 0;

  constructor(
    private repo: Repository,
    private policy: Policy,
    private readonly queue: UploadQueue,
    private readonly events: EventBuffer,
    private readonly opts: CaptureOptions,
    readonly state: CaptureState,
    private readonly persist: (s: CaptureState) => Promise<void>,
  ) {}

  get busy() {
    return this.running !== undefined;
  }

  /** Changes not yet in a spooled point. */
  get pendingChanges() {
    return this.dirtySince === undefined ? 0 : this.changesSeen;
  }

  setRepository(repo: Repository) {
    this.repo = repo;
  }

  async setPolicy(p: Policy): Promise<void> {
    const rewatch = JSON.stringify([p.includePaths, p.excludePaths]) !== JSON.stringify([this.policy.includePaths, this.policy.excludePaths]);
    this.policy = p;
    if (rewatch) {
      await this.watch();
      this.markDirty();
    }
  }

  private excludes() {
    return [...this.policy.excludePaths, ...this.opts.alwaysExclude].map((p) => resolve(p));
  }

  markDirty(): void {
    const now = Date.now();
    this.dirtySince ??= now;
    this.lastChange = now;
    this.changesSeen++;
  }

  /** (Re)subscribes to OS change events for every include path. */
  async watch(): Promise<void> {
    await this.unwatch();
    const { subscribe } = await import("@parcel/watcher");
    const excl = this.excludes();
    for (const inc of this.policy.includePaths.map((p) => resolve(p))) {
      let dir = inc;
      try {
        if (!(await stat(inc)).isDirectory()) dir = dirname(inc);
      } catch {
        // Not there yet: the rescan picks it up when it appears; watch its parent meanwhile.
        dir = dirname(inc);
      }
      try {
        const sub = await subscribe(
          dir,
          (err, evs) => {
            if (err) {
              this.events.add("warn", "error", `change notifications for ${dir} failed: ${err.message}; relying on rescans`);
              this.markDirty();
              return;
            }
            if (evs.some((e) => isUnder(e.path, inc) && !excl.some((x) => isUnder(e.path, x)))) this.markDirty();
          },
          { ignore: excl.filter((x) => isUnder(x, dir)) },
        );
        this.subs.push(sub);
      } catch (e) {
        this.events.add("warn", "error", `cannot watch ${dir}: ${(e as Error).message}; relying on rescans`, dir);
      }
    }
  }

  async unwatch(): Promise<void> {
    const subs = this.subs;
    this.subs = [];
    await Promise.all(subs.map((s) => s.unsubscribe().catch(() => undefined)));
  }

  /** Called often; starts a point when one is due. `spoolBytes` is what still waits for upload. */
  private held = false;

  /** Runs fn with capture paused (no point starts or runs meanwhile). */
  async hold<T>(fn: () => Promise<T>): Promise<T> {
    this.held = true;
    try {
      await this.idle();
      return await fn();
    } finally {
      this.held = false;
    }
  }

  tick(spoolBytes: number): void {
    if (this.running || this.held) return;
    const now = Date.now();
    const rpoMs = this.policy.rpoSeconds * 1000;
    if (now - this.lastRescanAt >= this.policy.rescanEveryHours * 3600_000) {
      this.lastRescanAt = now;
      this.markDirty();
    }
    const volumesDue = this.policy.volumes.length > 0 && now - (this.state.lastVolumesAt ?? 0) >= this.policy.volumeIntervalSeconds * 1000;
    if (this.dirtySince === undefined && !volumesDue) return;
    if (now - this.lastPointAt < rpoMs) return;
    const settled = now - this.lastChange >= this.opts.debounceMs;
    const overdue = this.dirtySince !== undefined && now - this.dirtySince >= rpoMs;
    if (!settled && !overdue && !volumesDue) return;
    if (spoolBytes >= this.policy.spoolLimitBytes) {
      if (!this.spoolFullReported) this.events.add("warn", "spool-full", `local spool holds ${spoolBytes} bytes (limit ${this.policy.spoolLimitBytes}): capture pauses until uploads catch up; changes are kept and captured then`);
      this.spoolFullReported = true;
      return;
    }
    this.spoolFullReported = false;
    this.running = this.takePoint(volumesDue)
      .catch((e) => {
        this.markDirty();
        this.events.add("error", "error", `capture failed: ${(e as Error).message}`);
      })
      .finally(() => (this.running = undefined));
  }

  async idle(): Promise<void> {
    await this.running;
  }

  private async takePoint(volumesDue: boolean): Promise<void> {
    const startedAt = Date.now();
    this.lastPointAt = startedAt;
    const changes = this.changesSeen;
    this.dirtySince = undefined;
    const p = this.policy;
    const hookMs = p.hookTimeoutSeconds * 1000;
    let consistency: "crash" | "application" = "crash";
    if (p.preFreezeCommand) {
      const r = await runHook(p.preFreezeCommand, hookMs);
      if (r.ok) consistency = "application";
      else this.events.add("warn", "hook-failed", `pre-freeze hook ${r.timedOut ? `timed out after ${p.hookTimeoutSeconds} s` : `failed (exit ${r.code})`}: point is crash-consistent. ${r.output.slice(0, 500)}`);
    }
    let result;
    try {
      let volumes = this.state.lastVolumes ?? [];
      if (volumesDue) {
        volumes = await backupVolumes(this.repo, p.volumes, { host: this.opts.host });
      }
      const sources = await expandSources(p.includePaths, this.excludes());
      if (sources.length === 0 && volumes.length === 0) return;
      const parentId = this.state.lastSnapshotId;
      // The parent must still be in the spool; without it the point is simply read in full.
      const parent = parentId && (await this.repo.store.head(`snapshots/${parentId}`)) ? parentId : "none";
      // workers: 0 encodes on this thread: the bundled agent ships no worker file (see README).
      result = await backup(this.repo, { paths: sources, host: this.opts.host, parent, consistency, workers: 0, volumes });
      if (volumesDue) {
        this.state.lastVolumes = volumes;
        this.state.lastVolumesAt = startedAt;
      }
    } finally {
      // Post-thaw always runs, even when the backup or the pre-freeze hook failed.
      if (p.postThawCommand) {
        const r = await runHook(p.postThawCommand, hookMs);
        if (!r.ok) this.events.add("error", "hook-failed", `post-thaw hook ${r.timedOut ? "timed out" : `failed (exit ${r.code})`}: ${r.output.slice(0, 500)}`);
      }
    }
    for (const e of result.snapshot.errors) this.events.add("warn", "unreadable-file", `could not read: ${e.error}`, e.path);
    const unchanged = result.snapshot.tree === this.state.lastTree && !volumesDue && result.snapshot.errors.length === 0;
    if (unchanged) {
      // Nothing changed since the last point (a rescan or a touch): no new point, no upload.
      await this.repo.deleteSnapshot(result.id);
    } else {
      await this.queue.push({ kind: "point", clientPointId: newClientPointId(), snapshotId: result.id });
      this.state.lastSnapshotId = result.id;
      this.state.lastTree = result.snapshot.tree;
      this.opts.log(`point spooled: ${result.snapshot.stats.files} files, ${result.snapshot.stats.newBytes} new bytes, ${result.snapshot.consistency}`);
    }
    if (this.changesSeen === changes) this.changesSeen = 0;
    await this.persist(this.state);
  }
}
