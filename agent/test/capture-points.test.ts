/**
 * When capture makes a point and what it records, on this Linux box with the real engine
 * (spool repository on disk, real hook commands through sh):
 * - metadata changes of directories ABOVE an include path make no point of their own;
 * - a point is application-consistent only when the pre-freeze hook and the post-thaw hook
 *   (when set) both succeeded.
 */
import { chmod, mkdir, rm, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { localStore } from "@tidemark/storage";
import { policySchema, type Policy } from "@tidemark/agent-protocol";
import { Capture, type CaptureState } from "../src/capture";
import { Repository } from "../src/engine";
import { EventBuffer } from "../src/events";
import { UploadQueue } from "../src/queue";
import { removeTmp, tmp as helperTmp } from "./helpers";

const tmp = () => helperTmp("points");
afterAll(removeTmp);

async function setup(policy: Partial<Policy>, root: string) {
  const repo = await Repository.init(localStore(join(root, "spool")), { kek: randomBytes(32) }, { packSize: 1024 * 1024 });
  const queue = new UploadQueue(join(root, "queue"));
  await queue.ensure();
  const events = new EventBuffer(100);
  const state: CaptureState = {};
  const capture = new Capture(repo, policySchema.parse({ rpoSeconds: 5, ...policy }), queue, events, { debounceMs: 0, host: "box", alwaysExclude: [join(root, "state")], log: () => {} }, state, async () => {});
  /** A full walk (a rescan) now; resolves with the points queued so far. */
  const rescan = async () => {
    // rpo keeps points apart in production; here every call is due at once.
    (capture as unknown as { lastPointAt: number }).lastPointAt = 0;
    capture.markFull();
    capture.tick(0);
    await capture.idle();
    return (await queue.list()).filter((q) => q.item.kind === "point");
  };
  return { repo, events, state, rescan };
}

describe("capture: points above the include paths and consistency", () => {
  it("touching (mtime), chmod-ing and adding a sibling to the include path's parent makes no point; a change below it does", async () => {
    const root = await tmp();
    const parent = join(root, "parent");
    const inc = join(parent, "inc");
    await mkdir(inc, { recursive: true });
    await writeFile(join(inc, "a.txt"), "one");
    const { rescan, state, repo } = await setup({ includePaths: [inc] }, root);
    expect(await rescan()).toHaveLength(1);
    const first = state.lastSnapshotId;

    await utimes(parent, new Date(), new Date(Date.now() + 60_000));
    await utimes(root, new Date(), new Date(Date.now() + 120_000));
    await chmod(parent, 0o711);
    await writeFile(join(parent, "sibling-not-protected.txt"), "x");
    expect(await rescan()).toHaveLength(1);
    expect(state.lastSnapshotId).toBe(first);
    // The spool keeps only the points that were queued (the walked one was dropped).
    expect((await repo.listSnapshots()).map((s) => s.id)).toEqual([first]);

    // Not vacuous: the same kind of change one level down, on the include path itself, is a point.
    await utimes(inc, new Date(), new Date(Date.now() + 180_000));
    expect(await rescan()).toHaveLength(2);
    await writeFile(join(inc, "a.txt"), "two!");
    expect(await rescan()).toHaveLength(3);
    const last = await repo.loadSnapshot(state.lastSnapshotId!);
    expect(last.stats.files).toBe(1);
  });

  it("two include paths under one parent: a change in either is a point, a change of the parent alone is not", async () => {
    const root = await tmp();
    const a = join(root, "srv", "a");
    const b = join(root, "srv", "b");
    await mkdir(a, { recursive: true });
    await mkdir(b, { recursive: true });
    await writeFile(join(a, "x"), "x");
    const { rescan } = await setup({ includePaths: [a, b] }, root);
    expect(await rescan()).toHaveLength(1);
    await utimes(join(root, "srv"), new Date(), new Date(Date.now() + 60_000));
    expect(await rescan()).toHaveLength(1);
    await writeFile(join(b, "y"), "y");
    expect(await rescan()).toHaveLength(2);
    // An include path that disappears is a change too.
    await rm(a, { recursive: true });
    expect(await rescan()).toHaveLength(3);
  });

  const consistencyOf = async (hooks: Partial<Policy>) => {
    const root = await tmp();
    const inc = join(root, "data");
    await mkdir(inc);
    await writeFile(join(inc, "f"), randomBytes(1000));
    const { rescan, repo, state, events } = await setup({ includePaths: [inc], hookTimeoutSeconds: 5, ...hooks }, root);
    expect(await rescan()).toHaveLength(1);
    const snap = await repo.loadSnapshot(state.lastSnapshotId!);
    // The point queued is the one kept in the spool (a re-recorded one replaces it).
    expect((await repo.listSnapshots()).map((s) => s.id)).toEqual([state.lastSnapshotId]);
    return { consistency: snap.consistency, events: events.pending() };
  };

  it("no hooks: crash-consistent", async () => {
    expect((await consistencyOf({})).consistency).toBe("crash");
  });

  it("pre-freeze and post-thaw both succeed: application-consistent; pre-freeze alone succeeding: application", async () => {
    expect((await consistencyOf({ preFreezeCommand: "true", postThawCommand: "true" })).consistency).toBe("application");
    expect((await consistencyOf({ preFreezeCommand: "true" })).consistency).toBe("application");
  });

  it("pre-freeze fails: crash (hook-failed event); post-thaw fails after a good pre-freeze: crash, recorded honestly after the fact", async () => {
    const pre = await consistencyOf({ preFreezeCommand: "exit 4", postThawCommand: "true" });
    expect(pre.consistency).toBe("crash");
    expect(pre.events.find((e) => e.kind === "hook-failed")?.message).toMatch(/pre-freeze hook failed \(exit 4\)/);
    const post = await consistencyOf({ preFreezeCommand: "true", postThawCommand: "echo thaw broke; exit 3" });
    expect(post.consistency).toBe("crash");
    expect(post.events.find((e) => e.kind === "hook-failed")?.message).toMatch(/post-thaw hook failed \(exit 3\): point is crash-consistent: thaw broke/);
  });
});
