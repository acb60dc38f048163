import { mkdir, mkdtemp, writeFile, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { backoffMs } from "../src/backoff";
import { EventBuffer } from "../src/events";
import { runHook } from "../src/hooks";
import { eventMatters, isUnder, planCapture } from "../src/paths";
import { UploadQueue } from "../src/queue";
import { StateDir, defaultStateDir } from "../src/state";
import { readSpooled } from "../src/spool";
import { BlobNotFoundError, localStore, memoryStore } from "@tidemark/storage";
import { randomBytes } from "node:crypto";

const tmp = () => mkdtemp(join(tmpdir(), "tm-agent-unit-"));

describe("include/exclude plan", () => {
  it("POSIX: nested includes collapse; policy globs pass through; the state dir is excluded literally; events are filtered", () => {
    const plan = planCapture(["/srv/data", "/srv/data/sub", "/home/a/"], ["*.tmp", "/srv/data/cache", "!neg"], ["/var/lib/tide[mark]*"], "linux");
    expect(plan.includes).toEqual(["/home/a", "/srv/data"]);
    expect(plan.excludes).toEqual(["*.tmp", "/srv/data/cache", "/var/lib/tide[[]mark][*]"]);
    expect(plan.invalid).toEqual([{ pattern: "!neg", error: expect.stringMatching(/negation/) }]);
    expect(eventMatters(plan, "/srv/data/x.txt", "linux")).toBe(true);
    expect(eventMatters(plan, "/srv/data/x.tmp", "linux")).toBe(false);
    expect(eventMatters(plan, "/srv/data/cache/deep/y", "linux")).toBe(false);
    expect(eventMatters(plan, "/srv/other/y", "linux")).toBe(false);
    // The escaped state dir matches only itself, not what its brackets would match as a glob.
    expect(plan.matcher!.excluded("/var/lib/tide[mark]*/queue/1.json", () => false)).toBe(true);
    expect(plan.matcher!.excluded("/var/lib/tidem", () => false)).toBe(false);
  });

  it("Windows drive-letter paths: normalised, nested by case-insensitive prefix, excludes case-insensitive, events in either case", () => {
    const plan = planCapture(["c:/Users/Ann/", "C:\\USERS\\ann\\Documents", "D:\\Shares"], ["C:\\Users\\Ann\\AppData", "*.TMP"], ["C:\\ProgramData\\Tidemark"], "win32");
    expect(plan.includes).toEqual(["D:\\Shares", "c:\\Users\\Ann"]);
    expect(plan.ignoreCase).toBe(true);
    expect(eventMatters(plan, "C:\\Users\\Ann\\notes.txt", "win32")).toBe(true);
    expect(eventMatters(plan, "c:\\users\\ann\\appdata\\Local\\x.db", "win32")).toBe(false);
    expect(eventMatters(plan, "D:\\Shares\\report.tmp", "win32")).toBe(false);
    expect(eventMatters(plan, "C:\\ProgramData\\Tidemark\\queue\\1.json", "win32")).toBe(false);
    expect(eventMatters(plan, "E:\\elsewhere.txt", "win32")).toBe(false);
    expect(isUnder("C:\\Users\\ann\\x", "c:\\users\\Ann", "win32")).toBe(true);
    expect(isUnder("C:\\Users2", "C:\\Users", "win32")).toBe(false);
  });
});

describe("backoff", () => {
  it("grows, is capped and jittered within [cap/2, cap]", () => {
    expect(backoffMs(0, { random: () => 0 })).toBe(500);
    expect(backoffMs(0, { random: () => 1 })).toBe(1000);
    expect(backoffMs(3, { random: () => 1 })).toBe(8000);
    expect(backoffMs(50, { random: () => 1, maxMs: 60_000 })).toBe(60_000);
  });
});

describe("hooks", () => {
  it("reports success, failure and a killed timeout", async () => {
    expect(await runHook("echo hi", 5000)).toMatchObject({ ok: true, code: 0, output: "hi" });
    expect(await runHook("exit 4", 5000)).toMatchObject({ ok: false, code: 4, timedOut: false });
    const t = await runHook("sleep 20", 300);
    expect(t).toMatchObject({ ok: false, timedOut: true });
    expect(t.ms).toBeLessThan(5000);
  });
});

describe("upload queue", () => {
  it("keeps creation order across instances and skips foreign files", async () => {
    const q = new UploadQueue(await tmp());
    await q.ensure();
    const id = (n: number) => n.toString(16).padStart(64, "0");
    await q.push({ kind: "pack", packId: id(1), size: 10 });
    await q.push({ kind: "pack", packId: id(2), size: 20 });
    await q.push({ kind: "point", clientPointId: "00000000-0000-4000-8000-000000000001", snapshotId: id(3) });
    await writeFile(join(q.dir, "zzz.json"), "not json");
    const again = new UploadQueue(q.dir);
    const items = await again.list();
    expect(items.map((i) => i.item.kind)).toEqual(["pack", "pack", "point"]);
    await again.remove(items[0]!.name);
    await again.remove(items[0]!.name);
    expect(await again.list()).toHaveLength(2);
    await expect(q.push({ kind: "pack", packId: "nothex", size: 1 })).rejects.toThrow();
  });
});

describe("state dir", () => {
  it("defaults per platform; a missing or damaged machine.json is a clear error", async () => {
    expect(defaultStateDir("win32")).toBe("C:\\ProgramData\\Tidemark");
    expect(defaultStateDir("linux")).toBe("/var/lib/tidemark");
    const s = new StateDir(join(await tmp(), "st"));
    await expect(s.readMachine()).rejects.toThrow(/not enrolled/);
    await s.ensure();
    expect((await stat(s.dir)).mode & 0o777).toBe(0o700);
    await writeFile(s.machinePath, JSON.stringify({ v: 1 }));
    await expect(s.readMachine()).rejects.toThrow(/damaged: serverUrl/);
    expect(JSON.parse(await readFile(s.machinePath, "utf8"))).toEqual({ v: 1 });
  });
});

describe("event buffer", () => {
  it("drops the oldest beyond its limit and says so", async () => {
    const b = new EventBuffer(3);
    for (let i = 0; i < 5; i++) b.add("info", "started", `e${i}`);
    const sent: string[] = [];
    await b.flush({ events: async (evs: Array<{ message: string }>) => void sent.push(...evs.map((e) => e.message)) } as never);
    expect(sent).toEqual(["2 older event(s) dropped while the server was unreachable", "e2", "e3", "e4"]);
    expect(b.size).toBe(0);
  });
});

describe("upload target", () => {
  it("reuses a session until 5 min before expiry (half-life for short ones); invalidate forces a new one", async () => {
    const { UploadTarget } = await import("../src/uploader");
    let now = Date.parse("2026-01-01T00:00:00Z");
    let life = 60 * 60_000;
    let calls = 0;
    const api = { uploadSession: async () => (calls++, { sasUrl: "http://127.0.0.1:1/devstoreaccount1/cust-a?sv=1&sig=x", container: "cust-a", expiresAt: new Date(now + life).toISOString() }) };
    const t = new UploadTarget(api as never, () => now);
    await t.store();
    now += 54 * 60_000;
    await t.store();
    expect(calls).toBe(1);
    now += 2 * 60_000;
    await t.store();
    expect(calls).toBe(2);
    t.invalidate();
    await t.store();
    expect(calls).toBe(3);
    life = 4 * 60_000;
    t.invalidate();
    await t.store();
    now += 60_000;
    await t.store();
    expect(calls).toBe(4);
    now += 90_000;
    await t.store();
    expect(calls).toBe(5);
  });
});

describe("spooled pack reads", () => {
  it("reuse a spare buffer when the pack fits, allocate when it does not, and say 'not found' like the store", async () => {
    const store = localStore(await tmp());
    const big = randomBytes(100 * 1024);
    const small = randomBytes(10 * 1024);
    await store.put("data/ab/big", big);
    await store.put("data/cd/small", small);
    const first = await readSpooled(store, "data/ab/big", undefined);
    expect(first.bytes.equals(big)).toBe(true);
    // The small pack lands in the big pack's buffer: exactly its bytes, nothing of the old tail.
    const second = await readSpooled(store, "data/cd/small", first.backing);
    expect(second.backing).toBe(first.backing);
    expect(second.bytes.length).toBe(small.length);
    expect(second.bytes.equals(small)).toBe(true);
    // A spare too small is not used (and not written into).
    const spare = Buffer.alloc(1024, 7);
    const third = await readSpooled(store, "data/ab/big", spare);
    expect(third.backing).not.toBe(spare);
    expect(third.bytes.equals(big)).toBe(true);
    expect(spare.equals(Buffer.alloc(1024, 7))).toBe(true);
    await expect(readSpooled(store, "data/ef/gone", undefined)).rejects.toBeInstanceOf(BlobNotFoundError);
    // Any other store goes through get().
    const mem = memoryStore();
    await mem.put("data/ab/big", big);
    expect((await readSpooled(mem, "data/ab/big", first.backing)).bytes.equals(big)).toBe(true);
    await expect(readSpooled(mem, "data/ef/gone", undefined)).rejects.toBeInstanceOf(BlobNotFoundError);
  });
});
