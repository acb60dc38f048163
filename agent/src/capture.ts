/**
 * When to take a point, and taking it. OS change events (via @parcel/watcher)
 * mark the capture dirty and collect the changed paths; a point is taken once
 * changes have settled (debounce) or have kept coming for rpoSeconds, and
 * never sooner than rpoSeconds after the previous one.
 *
 * A point normally walks only the directories on the way to changed paths
 * (the engine's incremental walk reuses every other subtree of the previous
 * point). A full walk — every file lstat'ed, only changed ones read — happens
 * at start, every rescanEveryHours, after a watcher error, when too many paths
 * changed at once, and after a policy change: it catches whatever events missed.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, stat } from "node:fs/promises";
import { join, resolve, win32 } from "node:path";
import type { Policy } from "@tidemark/agent-protocol";
import { backup, backupVolumes, type BackupSource, type Repository, type Snapshot, type VolumeMapBytes } from "./engine";
import type { EventBuffer } from "./events";
import { runHook } from "./hooks";
import { eventMatters, isUnder, planCapture, type CapturePlan, type Platform } from "./paths";
import type { UploadQueue } from "./queue";
import { writePrivate } from "./state";
import { newClientPointId } from "./uploader";
import { AGENT_TREE_CACHE_BYTES, collectGarbage } from "./memory";
import { volumeOf, wmiVss, type ReadPath, type ShadowDevice, type VssAdapter } from "./vss";
import { shadowedVolumes, volumeReadPath, windowsVolume } from "./win-volumes";
import { attributeRoots, WindowsAttributeReader } from "./win-attrs";
import { differsOnlyAboveSources } from "./above-sources";

export interface CaptureOptions {
  debounceMs: number;
  host: string;
  /** Always left out (the agent's own state dir would otherwise re-trigger itself). */
  alwaysExclude: string[];
  log: (line: string) => void;
  /** Where each volume's last block map is kept (prevMaps for the next image). */
  volumeMapDir?: string;
  /** Default: this process's platform. Tests pass "win32" to exercise the Windows path. */
  platform?: Platform;
  /** Windows shadow copies; default: PowerShell/WMI (src/vss.ts). */
  vss?: VssAdapter;
  /** More changed paths than this since the last point: walk everything instead (default 20 000). */
  maxChangedPaths?: number;
  /** Encoder workers for a point without a parent (default: the engine's, cores − 1). */
  encodeWorkers?: number;
  /**
   * Windows attributes (recorded when the platform is win32). Default: the PowerShell reader
   * on a real Windows host, none elsewhere (tests pass one with a fake runner); null: none.
   */
  attributes?: WindowsAttributeReader | null;
  /** Self-heal: chunk ids being stored again; the uploader must send them whatever the server's dedup says. */
  onHeal?: (ids: string[]) => void;
  /** Packs stored at once by the engine (BackupOptions.uploads). */
  uploads?: number;
  /** A point is about to be queued: packs sent directly since the last one are its (Uploader.pointQueued). */
  onPointQueued?: (snapshotId: string) => void;
}

export interface CaptureState {
  /** Spooled snapshot of the last point taken: the next point's parent. */
  lastSnapshotId?: string;
  lastTree?: string;
  lastVolumes?: Snapshot["volumes"];
  lastVolumesAt?: number;
}

type Subscription = { unsubscribe(): Promise<void> };

/** A heal id the agent re-read is not re-read again for this long (the server marks it healed once it has verified the new pack). */
const HEAL_AGAIN_AFTER_MS = 30 * 60_000;

export class Capture {
  private dirtySince: number | undefined;
  private lastChange = 0;
  private lastPointAt = 0;
  private lastRescanAt = 0;
  private subs: Subscription[] = [];
  private running: Promise<void> | undefined;
  private spoolFullReported = false;
  /** Recorded paths changed since the last point; `full` → the next point walks everything. */
  private changed = new Set<string>();
  private full = true;
  private plan: CapturePlan;
  private readonly platform: Platform;
  private healWanted = new Set<string>();
  private readonly attributes: WindowsAttributeReader | undefined;
  private healedAt = new Map<string, number>();
  changesSeen = 0;
  /** Points begun since start (taken or not). */
  pointsStarted = 0;

  constructor(
    private repo: Repository,
    private policy: Policy,
    private readonly queue: UploadQueue,
    private readonly events: EventBuffer,
    private readonly opts: CaptureOptions,
    readonly state: CaptureState,
    private readonly persist: (s: CaptureState) => Promise<void>,
  ) {
    this.platform = opts.platform ?? process.platform;
    this.attributes = opts.attributes === undefined ? (process.platform === "win32" ? new WindowsAttributeReader() : undefined) : (opts.attributes ?? undefined);
    this.plan = this.makePlan();
    repo.treeCacheLimit = AGENT_TREE_CACHE_BYTES;
  }

  get busy() {
    return this.running !== undefined;
  }

  /** Changes not yet in a spooled point. */
  get pendingChanges() {
    return this.dirtySince === undefined ? 0 : this.changesSeen;
  }

  setRepository(repo: Repository) {
    repo.treeCacheLimit = AGENT_TREE_CACHE_BYTES;
    this.repo = repo;
    this.full = true;
  }

  private makePlan(): CapturePlan {
    const plan = planCapture(this.policy.includePaths, this.policy.excludePaths, this.opts.alwaysExclude, this.platform);
    for (const bad of plan.invalid) this.events.add("warn", "error", `exclude pattern ignored: ${bad.error}`, bad.pattern);
    return plan;
  }

  async setPolicy(p: Policy): Promise<void> {
    const rewatch = JSON.stringify([p.includePaths, p.excludePaths]) !== JSON.stringify([this.policy.includePaths, this.policy.excludePaths]);
    this.policy = p;
    if (rewatch) {
      this.plan = this.makePlan();
      await this.watch();
      this.full = true;
      this.markDirty();
    }
  }

  markDirty(path?: string, settled = false): void {
    const now = Date.now();
    this.dirtySince ??= now;
    // A rescan has nothing to settle: it is due at once (still no sooner than rpo after the last point).
    if (!settled) this.lastChange = now;
    this.changesSeen++;
    if (path === undefined) return;
    if (this.changed.size >= (this.opts.maxChangedPaths ?? 20_000)) {
      // A burst this large is cheaper (and as memory-bounded) as one full walk.
      this.full = true;
      this.changed.clear();
    } else if (!this.full) this.changed.add(path);
  }

  /** The next point walks everything (a rescan). */
  markFull(): void {
    this.full = true;
    this.changed.clear();
    this.markDirty(undefined, true);
  }

  /**
   * Self-heal: the server found these chunks bad or missing in storage. The next point re-reads
   * the files that hold them and stores them again. Ids re-read recently are left alone.
   */
  requestHeal(ids: string[]): void {
    const now = Date.now();
    for (const [id, at] of this.healedAt) if (now - at > HEAL_AGAIN_AFTER_MS) this.healedAt.delete(id);
    const fresh = ids.filter((id) => !this.healedAt.has(id) && !this.healWanted.has(id));
    if (fresh.length === 0) return;
    for (const id of fresh) this.healWanted.add(id);
    this.events.add("warn", "error", `the server found ${fresh.length} stored chunk(s) bad or missing: re-reading the files that hold them`);
    this.markDirty();
  }

  private watchChain: Promise<void> = Promise.resolve();

  /** (Re)subscribes to OS change events for every include path; calls run one after another. */
  watch(): Promise<void> {
    const p = this.watchChain.then(() => this.subscribeAll());
    this.watchChain = p.catch(() => undefined);
    return p;
  }

  private async subscribeAll(): Promise<void> {
    await this.unwatch();
    const { subscribe } = await import("@parcel/watcher");
    const plan = this.plan;
    const always = this.opts.alwaysExclude;
    for (const inc of plan.includes) {
      let dir = inc;
      try {
        if (!(await stat(inc)).isDirectory()) dir = parentOf(inc, this.platform);
      } catch {
        // Not there yet: the rescan picks it up when it appears; watch its parent meanwhile.
        dir = parentOf(inc, this.platform);
      }
      try {
        const sub = await subscribe(
          dir,
          (err, evs) => {
            if (err) {
              this.events.add("warn", "error", `change notifications for ${dir} failed: ${err.message}; relying on rescans`);
              this.markFull();
              return;
            }
            for (const e of evs) if (eventMatters(plan, e.path, this.platform)) this.markDirty(e.path);
          },
          { ignore: always.filter((x) => isUnder(x, dir, this.platform)) },
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

  /** Called often; starts a point when one is due. `spoolBytes` is what still waits for upload. */
  tick(spoolBytes: number): void {
    if (this.running || this.held) return;
    const now = Date.now();
    const rpoMs = this.policy.rpoSeconds * 1000;
    if (now - this.lastRescanAt >= this.policy.rescanEveryHours * 3600_000) {
      this.lastRescanAt = now;
      this.markFull();
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
    // What this point covers; put back if it fails, so nothing is forgotten.
    const changed = this.full ? undefined : this.changed;
    const heal = new Set(this.healWanted);
    this.changed = new Set();
    this.full = false;
    this.pointsStarted++;
    this.running = this.takePoint(volumesDue, changed, heal)
      .catch((e) => {
        if (changed) for (const p of changed) this.markDirty(p);
        else this.markFull();
        this.events.add("error", "error", `capture failed: ${(e as Error).message}`);
      })
      .finally(() => {
        this.running = undefined;
        // The walk's garbage goes now, while the agent is about to idle (a few ms for a small heap).
        collectGarbage();
      });
  }

  async idle(): Promise<void> {
    await this.running;
  }

  /**
   * Sources for this cycle: on Windows with `vss`, read from shadow copies and record the live
   * paths. `imaging`: the policy's volumes are imaged in this cycle, so their drives are shadowed
   * too; `device` then gives each drive's shadow device (undefined: read live).
   */
  private async withSources<T>(imaging: boolean, use: (sources: BackupSource[], shadowed: boolean, device: ShadowDevice, read: ReadPath) => Promise<T>): Promise<T> {
    const includes = this.plan.includes;
    const none: ShadowDevice = () => undefined;
    const same: ReadPath = (live) => live;
    // Windows paths as mapped sources: recorded exactly as the policy names them, whatever the host.
    const live: BackupSource[] = this.platform === "win32" ? includes.map((p) => ({ read: p, record: p })) : includes;
    const wanted = [...includes.map(volumeOf).filter((v): v is string => v !== undefined), ...(imaging ? shadowedVolumes(this.policy.volumes) : [])];
    const volumes = this.platform === "win32" && this.policy.vss ? [...new Set(wanted)] : [];
    if (volumes.length === 0) return use(live, false, none, same);
    const vss = this.opts.vss ?? wmiVss({ onWarning: (m) => this.events.add("warn", "vss-failed", m) });
    let entered = false;
    try {
      return await vss.withShadows(volumes, (read: ReadPath, device?: ShadowDevice) => {
        entered = true;
        return use(
          includes.map((p) => ({ read: read(p), record: p })),
          true,
          device ?? none,
          read,
        );
      });
    } catch (e) {
      if (entered) throw e;
      // No shadow: the cycle still runs, reading the live files (never skip a point for VSS).
      this.events.add("error", "vss-failed", `VSS shadow copy failed (${(e as Error).message}); this point reads live files`);
      return use(live, false, none, same);
    }
  }

  private async takePoint(volumesDue: boolean, changed: Set<string> | undefined, heal: Set<string>): Promise<void> {
    const startedAt = Date.now();
    this.lastPointAt = startedAt;
    const changes = this.changesSeen;
    this.dirtySince = undefined;
    const p = this.policy;
    const hookMs = p.hookTimeoutSeconds * 1000;
    // Crash-consistent unless the hooks made it more: a VSS shadow made through WMI
    // (ClientAccessible) runs no writers, so it gives one instant, not an application's state.
    let consistency: "crash" | "application" = "crash";
    let thawed = false;
    const thaw = async () => {
      if (thawed || !p.postThawCommand) return;
      thawed = true;
      const r = await runHook(p.postThawCommand, hookMs);
      if (r.ok) return;
      // A failed post-thaw can mean the frozen state is not usable (pg_backup_stop never ran).
      const demoted = consistency === "application";
      consistency = "crash";
      this.events.add("error", "hook-failed", `post-thaw hook ${r.timedOut ? "timed out" : `failed (exit ${r.code})`}${demoted ? ": point is crash-consistent" : ""}: ${r.output.slice(0, 500)}`);
    };
    if (p.preFreezeCommand) {
      const r = await runHook(p.preFreezeCommand, hookMs);
      if (r.ok) consistency = "application";
      else this.events.add("warn", "hook-failed", `pre-freeze hook ${r.timedOut ? `timed out after ${p.hookTimeoutSeconds} s` : `failed (exit ${r.code})`}: point is crash-consistent. ${r.output.slice(0, 500)}`);
    }
    if (heal.size) this.opts.onHeal?.([...heal]);
    let result;
    let pointSources: BackupSource[] = [];
    try {
      let volumes = this.state.lastVolumes ?? [];
      // Windows images its volumes inside the cycle's shadows (below); elsewhere in the frozen window, now.
      const windows = this.platform === "win32";
      if (volumesDue && !windows) volumes = await this.imageVolumes();
      result = await this.withSources(volumesDue && windows, async (sources, shadowed, device, read) => {
        pointSources = sources;
        // With a shadow the applications may go on: the frozen state is in the snapshot.
        if (shadowed) await thaw();
        if (volumesDue && windows) volumes = await this.imageVolumes((v) => volumeReadPath(windowsVolume(v), device, read), (v) => windowsVolume(v).record);
        if (sources.length === 0 && volumes.length === 0) return undefined;
        const parentId = this.state.lastSnapshotId;
        // The parent must still be in the spool; without it the point is simply read in full.
        const parent = parentId && (await this.repo.store.head(`snapshots/${parentId}`)) ? parentId : "none";
        // A point without a parent reads everything: the engine's encoder workers (cores − 1) make
        // the initial protection multi-core. Later points read only changed files: on this
        // thread, so an idle agent keeps no worker (and its memory) alive.
        const first = parent === "none";
        const incremental = changed && !first ? changed : undefined;
        const attrs = this.platform === "win32" ? this.attributes : undefined;
        if (attrs) {
          // A heal re-reads files in subtrees an incremental walk would not list: list everything then.
          const listed = await attrs.prime(attributeRoots(sources.map((s) => (typeof s === "string" ? { read: s, record: s } : s)), heal.size ? undefined : incremental));
          if (listed.problem) this.events.add("warn", "error", listed.problem);
        }
        try {
          return await backup(this.repo, {
            sources,
            excludes: this.plan.excludes,
            excludeIgnoreCase: this.plan.ignoreCase,
            host: this.opts.host,
            parent,
            consistency,
            volumes,
            ...(incremental ? { changedPaths: incremental } : {}),
            ...(heal.size ? { rereadChunks: heal } : {}),
            ...(attrs ? { attributes: attrs.read } : {}),
            workers: first ? this.opts.encodeWorkers : 0,
            ...(this.opts.uploads !== undefined ? { uploads: this.opts.uploads } : {}),
          });
        } finally {
          attrs?.clear();
          if (first) await this.repo.close();
        }
      });
      if (volumesDue) {
        this.state.lastVolumes = volumes;
        this.state.lastVolumesAt = startedAt;
      }
    } finally {
      // Post-thaw always runs, even when the backup or the pre-freeze hook failed.
      await thaw();
    }
    if (!result) return;
    if (result.snapshot.consistency !== consistency) {
      // The post-thaw hook ran after the point was saved (no shadow) and failed: record it honestly.
      const saved = result;
      const snapshot = { ...saved.snapshot, consistency };
      result = { id: await this.repo.saveSnapshot(snapshot), snapshot };
      await this.repo.deleteSnapshot(saved.id);
    }
    for (const e of result.snapshot.errors) this.events.add("warn", "unreadable-file", `could not read: ${e.error}`, e.path);
    const identical = result.snapshot.tree === this.state.lastTree;
    const sameTree = identical || (await this.onlyAboveSourcesChanged(result.snapshot.tree, pointSources));
    const unchanged = sameTree && !volumesDue && result.snapshot.errors.length === 0 && heal.size === 0;
    if (unchanged) {
      // Nothing changed since the last point (a rescan or a touch): no new point, no upload.
      await this.repo.deleteSnapshot(result.id);
      if (!changed) this.opts.log(`full walk: ${identical ? "nothing changed" : "only directories above the include paths changed"}, no point`);
    } else {
      this.opts.onPointQueued?.(result.id);
      await this.queue.push({ kind: "point", clientPointId: newClientPointId(), snapshotId: result.id });
      this.state.lastSnapshotId = result.id;
      this.state.lastTree = result.snapshot.tree;
      this.opts.log(`point spooled: ${result.snapshot.stats.files} files, ${result.snapshot.stats.newBytes} new bytes, ${result.snapshot.consistency}${changed ? `, ${changed.size} changed path(s)` : ", full walk"}${heal.size ? `, ${heal.size} chunk(s) to heal` : ""}`);
    }
    for (const id of heal) {
      this.healWanted.delete(id);
      this.healedAt.set(id, startedAt);
    }
    if (this.changesSeen === changes) this.changesSeen = 0;
    await this.persist(this.state);
  }

  /** The new root tree differs from the last point's only above the include paths (see above-sources.ts). */
  private async onlyAboveSourcesChanged(tree: string, sources: BackupSource[]): Promise<boolean> {
    const last = this.state.lastTree;
    if (!last || sources.length === 0) return false;
    try {
      return await differsOnlyAboveSources(this.repo, last, tree, sources);
    } catch (e) {
      // The last tree unreadable here costs one extra point, never a missed change.
      this.opts.log(`comparing with the last point's tree failed (${(e as Error).message}): taking the point`);
      return false;
    }
  }

  /** Images the policy's volumes, reusing unchanged blocks through the maps kept from the last image. */
  /**
   * Images the policy's volumes, reusing unchanged blocks through the maps kept from the last image.
   * `readOf`: where each volume is read this cycle (Windows: its shadow device); `recordOf`: what the
   * point records and the kept map is named by — stable across cycles whatever was read.
   */
  private async imageVolumes(readOf: (v: string) => string = (v) => v, recordOf: (v: string) => string = (v) => resolve(v)): Promise<Snapshot["volumes"]> {
    const dir = this.opts.volumeMapDir;
    const prevMaps = new Map<string, VolumeMapBytes>();
    const fileOf = (record: string) => join(dir!, createHash("sha256").update(record).digest("hex").slice(0, 32) + ".map");
    // The engine names each volume by its resolved read path; back to the policy's volume from there.
    const plan = this.policy.volumes.map((v) => ({ read: readOf(v), record: recordOf(v) }));
    const recordByRead = new Map(plan.map((x) => [resolve(x.read), x.record]));
    if (dir) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      for (const x of plan) {
        try {
          const b = await readFile(fileOf(x.record));
          prevMaps.set(resolve(x.read), { blockSize: b.readUInt32LE(0), map: b.subarray(4) });
        } catch {
          // First image of this source (or the map was lost): its blocks are hashed in full.
        }
      }
    }
    const maps: Array<[string, VolumeMapBytes]> = [];
    const refs = await backupVolumes(
      this.repo,
      plan.map((x) => x.read),
      { host: this.opts.host, ...(dir ? { prevMaps, onMap: (s: string, m: VolumeMapBytes) => void maps.push([s, m]) } : {}) },
    );
    for (const [source, m] of maps) {
      const head = Buffer.alloc(4);
      head.writeUInt32LE(m.blockSize);
      await writePrivate(fileOf(recordByRead.get(source) ?? source), Buffer.concat([head, m.map]));
    }
    return refs.map((r) => {
      const record = recordByRead.get(r.source);
      if (record === undefined || record === r.source) return r;
      // Read from a shadow device: recorded as the live volume ("C:", name "C").
      return { ...r, source: record, name: /^[A-Z]:$/.test(record) ? record[0]! : win32.basename(record) };
    });
  }
}

function parentOf(p: string, platform: Platform): string {
  return platform === "win32" ? p.replace(/[\\/][^\\/]*$/, "") || p : p.replace(/\/[^/]*$/, "") || "/";
}
