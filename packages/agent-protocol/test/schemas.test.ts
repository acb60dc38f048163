import { describe, expect, it } from "vitest";
import {
  commitPointRequestSchema,
  enrollRequestSchema,
  enrollResponseSchema,
  eventsRequestSchema,
  formatCredential,
  heartbeatRequestSchema,
  commitChunkIds,
  MAX_MISSING_QUERY,
  missingRequestIds,
  missingRequestSchema,
  missingResponseIds,
  missingResponseSchema,
  packColumns,
  packReportEntries,
  packReportSchema,
  parseCredential,
  policySchema,
  restoreJobSchema,
  restoreProgressRequestSchema,
  uploadSessionResponseSchema,
  isLowerHex,
} from "../src/index";
import { goodEnroll, goodEnrollResponse, goodPoint, goodPack, hex, uuid } from "./fixtures";

/** Each case replaces one field of a good value with a bad one: exactly that field must be named. */
function rejects(schema: { safeParse(v: unknown): { success: boolean; error?: { issues: Array<{ path: PropertyKey[] }> } } }, good: unknown, path: string, bad: unknown) {
  const v = structuredClone(good) as Record<string, unknown>;
  const keys = path.split(".");
  let cur: Record<string, unknown> = v;
  for (const k of keys.slice(0, -1)) cur = cur[k] as Record<string, unknown>;
  if (bad === undefined) delete cur[keys.at(-1)!];
  else cur[keys.at(-1)!] = bad;
  const r = schema.safeParse(v);
  expect(r.success, `${path}=${JSON.stringify(bad)} should be refused`).toBe(false);
  expect(r.error!.issues.some((i) => (i.path.join(".") + ".").startsWith(path + "."))).toBe(true);
}

describe("enroll", () => {
  it("accepts a good request and response", () => {
    expect(enrollRequestSchema.safeParse(goodEnroll).success).toBe(true);
    expect(enrollResponseSchema.parse(goodEnrollResponse).policy.rpoSeconds).toBe(60);
  });
  it.each([
    ["token", ""],
    ["token", undefined],
    ["name", ""],
    ["hostname", 5],
    ["os.platform", "beos"],
    ["agentVersion", undefined],
  ])("request refuses %s=%j", (path, bad) => rejects(enrollRequestSchema, goodEnroll, path, bad));
  it.each([
    ["machineId", "m1"],
    ["machineSecret", "short"],
    ["customerId", undefined],
    ["dataKey", Buffer.alloc(16).toString("base64")],
    ["dataKey", "not base64!"],
    ["repository.blobEndpoint", "nope"],
    ["repository.config", undefined],
    ["policy.rpoSeconds", 4],
  ])("response refuses %s=%j", (path, bad) => rejects(enrollResponseSchema, goodEnrollResponse, path, bad));
});

describe("policy", () => {
  it("fills defaults from an empty object", () => {
    const p = policySchema.parse({});
    expect(p).toMatchObject({ rpoSeconds: 60, rescanEveryHours: 6, hookTimeoutSeconds: 60, includePaths: [], vss: true });
    expect(p.retention.keepDaily).toBe(30);
  });
  it.each([
    ["rpoSeconds", 4],
    ["rpoSeconds", 5.5],
    ["includePaths", [""]],
    ["spoolLimitBytes", 1000],
    ["hookTimeoutSeconds", 0],
    ["volumeIntervalSeconds", 10],
    ["preFreezeCommand", ""],
  ])("refuses %s=%j", (path, bad) => rejects(policySchema, {}, path, bad));
});

describe("credential", () => {
  it("round-trips through the Authorization header", () => {
    const c = formatCredential(uuid(1), "s".repeat(43));
    expect(parseCredential(`Bearer ${c}`)).toEqual({ machineId: uuid(1), secret: "s".repeat(43) });
  });
  it.each(["", "Bearer", `Basic tmm_${uuid(1)}.${"s".repeat(43)}`, `Bearer tmm_${uuid(1)}.short`, `Bearer tmm_not-a-uuid-but-36-chars-long-xxxxxxxxxx.${"s".repeat(43)}`])("refuses %j", (h) => {
    expect(parseCredential(h)).toBeNull();
  });
  it("refuses to format a bad secret", () => expect(() => formatCredential(uuid(1), "a b")).toThrow());
});

describe("heartbeat", () => {
  const good = { agentVersion: "0.1.0", os: { platform: "linux", release: "6.1", arch: "x64" }, hostname: "h", volumes: [{ path: "/", sizeBytes: 10, freeBytes: 5 }], freeBytes: 5, pendingChanges: 0 };
  it("accepts", () => expect(heartbeatRequestSchema.safeParse(good).success).toBe(true));
  it.each([
    ["freeBytes", -1],
    ["pendingChanges", 1.5],
    ["volumes", "x"],
    ["lastError", "e".repeat(4001)],
  ])("refuses %s=%j", (path, bad) => rejects(heartbeatRequestSchema, good, path, bad));
});

describe("chunks/missing", () => {
  it("accepts up to the batch limit", () => {
    expect(missingRequestSchema.safeParse({ ids: Array.from({ length: MAX_MISSING_QUERY }, (_, i) => hex(i)) }).success).toBe(true);
  });
  it("refuses one more than the limit, upper-case and short ids, an empty batch", () => {
    expect(missingRequestSchema.safeParse({ ids: Array.from({ length: MAX_MISSING_QUERY + 1 }, (_, i) => hex(i)) }).success).toBe(false);
    rejects(missingRequestSchema, { ids: [hex(1)] }, "ids.0", hex(0xabc).toUpperCase());
    rejects(missingRequestSchema, { ids: [hex(1)] }, "ids.0", "abc");
    rejects(missingRequestSchema, { ids: [hex(1)] }, "ids", []);
  });
  const msgs = (schema: typeof missingRequestSchema | typeof missingResponseSchema, v: unknown) => schema.safeParse(v).error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`) ?? [];
  it("isLowerHex accepts exactly what /^[0-9a-f]*$/ accepts", () => {
    const re = /^[0-9a-f]*$/;
    const cases = ["", "0", "a", "0123456789abcdef", hex(7) + hex(8), "A", "ab" + "F", "0g", "g0", "abc ", " abc", "ab\n", "ab\u0000cd", "ａｂ", "abé1", "é", "1".repeat(63) + "x", hex(1) + "0", hex(1).toUpperCase()];
    for (const s of cases) expect([s, isLowerHex(s)]).toEqual([s, re.test(s)]);
    // Every single character, alone and after a valid even-length prefix (the fast path).
    for (let c = 0; c < 0x3000; c++) {
      const ch = String.fromCharCode(c);
      for (const s of [ch, "ab" + ch, ch + "a", "ab" + ch + "c"]) if (isLowerHex(s) !== re.test(s)) throw new Error(`isLowerHex(${JSON.stringify(s)}) differs`);
    }
  });
  it("takes the ids concatenated (idsHex) and answers in the form asked", () => {
    const req = missingRequestSchema.parse({ idsHex: hex(1) + hex(2) });
    expect(missingRequestIds(req)).toEqual([hex(1), hex(2)]);
    expect(missingRequestIds(missingRequestSchema.parse({ ids: [hex(3)] }))).toEqual([hex(3)]);
    expect(missingResponseIds(missingResponseSchema.parse({ missingHex: hex(2) }))).toEqual([hex(2)]);
    expect(missingResponseIds(missingResponseSchema.parse({ missingHex: "" }))).toEqual([]);
    expect(missingResponseIds(missingResponseSchema.parse({ missing: [hex(4)] }))).toEqual([hex(4)]);
    expect(missingRequestSchema.safeParse({ idsHex: Array.from({ length: MAX_MISSING_QUERY }, (_, i) => hex(i)).join("") }).success).toBe(true);
  });
  it("refuses a bad idsHex, both forms or neither, naming the field", () => {
    expect(msgs(missingRequestSchema, { idsHex: hex(0xabc).toUpperCase() })).toEqual(["idsHex: must be lower-case hex digits only"]);
    expect(msgs(missingRequestSchema, { idsHex: hex(1) + "ab" })).toEqual(["idsHex: must be a whole number of 64-hex-digit ids"]);
    expect(msgs(missingRequestSchema, { idsHex: "" }).join()).toMatch(/idsHex: must hold at least one/);
    expect(msgs(missingRequestSchema, { idsHex: Array.from({ length: MAX_MISSING_QUERY + 1 }, (_, i) => hex(i)).join("") }).join()).toMatch(/idsHex: must hold at most/);
    expect(msgs(missingRequestSchema, { ids: [hex(1)], idsHex: hex(1) })).toEqual(["idsHex: exactly one of ids and idsHex must be given"]);
    expect(msgs(missingRequestSchema, {})).toEqual(["ids: exactly one of ids and idsHex must be given"]);
    expect(msgs(missingResponseSchema, { missingHex: "x".repeat(64) })).toEqual(["missingHex: must be lower-case hex digits only"]);
    expect(msgs(missingResponseSchema, {})).toEqual(["missing: exactly one of missing and missingHex must be given"]);
  });
});

describe("packs", () => {
  it("accepts", () => expect(packReportSchema.safeParse(goodPack).success).toBe(true));
  it.each([
    ["packId", "x"],
    ["size", 0],
    ["salt", Buffer.alloc(8).toString("base64")],
    ["entries", []],
  ])("refuses %s=%j", (path, bad) => rejects(packReportSchema, goodPack, path, bad));
  it("refuses an entry that runs past the pack or sits in the header", () => {
    rejects(packReportSchema, goodPack, "entries.0.length", 10_000);
    rejects(packReportSchema, goodPack, "entries.0.offset", 3);
    rejects(packReportSchema, goodPack, "entries.0.type", 2);
  });
});

describe("packs, columnar", () => {
  const entries = [
    { id: hex(4), type: 0, offset: 40, length: 100, rawLength: 90 },
    { id: hex(5), type: 1, offset: 140, length: 800, rawLength: 0 },
    { id: hex(6), type: 0, offset: 940, length: 60, rawLength: 60 },
  ];
  const { entries: _old, ...head } = goodPack;
  const goodCols = { ...head, columns: packColumns(entries) };
  const issues = (v: unknown) => {
    const r = packReportSchema.safeParse(v);
    expect(r.success, "should be refused").toBe(false);
    return r.error!.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  };
  const withColumn = (field: string, value: unknown) => ({ ...goodCols, columns: { ...goodCols.columns, [field]: value } });

  it("accepts, and reads back the same entries as the old form", () => {
    const r = packReportSchema.parse(goodCols);
    expect(goodCols.columns.ids).toBe(hex(4) + hex(5) + hex(6));
    expect(goodCols.columns.types).toBe("010");
    expect(packReportEntries(r)).toEqual(entries);
    expect(packReportEntries(packReportSchema.parse({ ...head, entries }))).toEqual(entries);
  });
  it("builds ids from Buffers as lower-case hex", () => {
    const cols = packColumns(entries.map((e) => ({ ...e, id: Buffer.from(e.id, "hex") })));
    expect(cols).toEqual(goodCols.columns);
  });
  it("needs exactly one of entries and columns", () => {
    expect(issues(head).join()).toMatch(/entries: exactly one of entries and columns/);
    expect(issues({ ...goodCols, entries: goodPack.entries }).join()).toMatch(/columns: exactly one of entries and columns/);
  });
  it.each([
    ["ids", hex(4) + hex(5) + hex(0xabc).toUpperCase(), /^columns\.ids: must be lower-case hex/],
    ["ids", hex(4) + hex(5) + hex(6).slice(0, 63) + "g", /^columns\.ids: must be lower-case hex/],
    ["ids", hex(4) + hex(5) + hex(6).slice(0, 60), /^columns\.ids: must be a whole number of 64-hex-digit ids/],
    ["ids", "", /^columns\.ids: must hold at least one/],
    ["types", "012", /^columns\.types: must be one "0" \(data\) or "1" \(tree\) per entry/],
    ["offsets", [40, 39, 940], /^columns\.offsets\.1: must be an integer of at least 40/],
    ["offsets", [40, 140.5, 940], /^columns\.offsets\.1: must be an integer/],
    ["offsets", "40,140,940", /^columns\.offsets: must be an array of integers/],
    ["lengths", [100, 0, 60], /^columns\.lengths\.1: must be a positive integer, got 0/],
    ["lengths", [100, "800", 60], /^columns\.lengths\.1: must be a positive integer, got "800"/],
    ["rawLengths", [90, 0, -1], /^columns\.rawLengths\.2: must be a non-negative integer, got -1/],
    ["rawLengths", [90, 0, null], /^columns\.rawLengths\.2: must be a non-negative integer/],
  ])("refuses columns.%s=%j with a clear message", (field, bad, message) => {
    expect(issues(withColumn(field, bad))).toEqual([expect.stringMatching(message)]);
  });
  it.each(["types", "offsets", "lengths", "rawLengths"])("refuses a %s column of another length than ids", (field) => {
    const col = goodCols.columns[field as keyof typeof goodCols.columns];
    expect(issues(withColumn(field, col.slice(0, 2)))).toEqual([`columns.${field}: has 2 entries but ids has 3: every column needs one value per id`]);
  });
  it("refuses an entry that runs past the end of the pack, naming its index", () => {
    expect(issues(withColumn("lengths", [100, 800, 61]))).toEqual(["columns.lengths.2: entry 2 runs past the end of the pack"]);
    expect(issues({ ...goodCols, size: 999 })).toEqual(["columns.lengths.2: entry 2 runs past the end of the pack"]);
  });
  it("caps the issues of a wholly wrong column", () => {
    const n = 1000;
    const many = packColumns(Array.from({ length: n }, (_, i) => ({ id: hex(i + 1), type: 0, offset: 40 + i, length: 1, rawLength: 1 })));
    const r = packReportSchema.safeParse({ ...head, size: 10_000, columns: { ...many, offsets: new Array(n).fill(0) } });
    expect(r.success).toBe(false);
    expect(r.error!.issues.length).toBe(10);
  });
});

describe("points", () => {
  it("accepts", () => expect(commitPointRequestSchema.safeParse(goodPoint).success).toBe(true));
  it.each([
    ["clientPointId", "abc"],
    ["manifest.consistency", "app"],
    ["manifest.rootTree", "00"],
    ["manifest.time", "yesterday"],
    ["manifest.stats", undefined],
    ["manifest.errors", undefined],
    ["manifest.snapshotId", undefined],
    ["chunkIds", ["zz"]],
    ["chunkIdsHex", "zz"],
    ["chunkIdsHex", hex(1).slice(1)],
  ])("refuses %s=%j", (path, bad) => rejects(commitPointRequestSchema, goodPoint, path, bad));
  it("takes chunkIds or chunkIdsHex, not both", () => {
    const { chunkIds: _, ...bare } = goodPoint as typeof goodPoint & { chunkIds?: string[] };
    expect(commitChunkIds(commitPointRequestSchema.parse({ ...bare, chunkIdsHex: hex(1) + hex(2) }))).toEqual([hex(1), hex(2)]);
    expect(commitChunkIds(commitPointRequestSchema.parse({ ...bare, chunkIds: [hex(3)] }))).toEqual([hex(3)]);
    expect(commitChunkIds(commitPointRequestSchema.parse(bare))).toEqual([]);
    const both = commitPointRequestSchema.safeParse({ ...bare, chunkIds: [hex(1)], chunkIdsHex: hex(1) });
    expect(both.error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`)).toEqual(["chunkIdsHex: at most one of chunkIds and chunkIdsHex may be given"]);
  });
});

describe("restore jobs, upload session and events", () => {
  const job = { id: uuid(5), pointId: uuid(6), snapshotId: hex(9), paths: [], destination: { kind: "folder", path: "/tmp/r" }, conflict: "skip", readSasUrl: "http://a/b?sig=x", expiresAt: "2026-01-01T00:00:00Z" };
  it("accepts a job; refuses a bad conflict rule or a folder without a path", () => {
    expect(restoreJobSchema.safeParse(job).success).toBe(true);
    rejects(restoreJobSchema, job, "conflict", "merge");
    rejects(restoreJobSchema, job, "destination.path", undefined);
  });
  it("progress numbers are non-negative integers", () => {
    rejects(restoreProgressRequestSchema, { bytesDone: 1, filesDone: 1, bytesTotal: 1, filesTotal: 1 }, "bytesDone", -1);
  });
  it("upload session needs a URL and an ISO expiry", () => {
    const s = { sasUrl: "http://127.0.0.1:1/acct/c?sig=x", container: "c", expiresAt: "2026-01-01T00:00:00.000Z" };
    expect(uploadSessionResponseSchema.safeParse(s).success).toBe(true);
    rejects(uploadSessionResponseSchema, s, "expiresAt", "soon");
    rejects(uploadSessionResponseSchema, s, "sasUrl", "c?sig");
  });
  it("events: bounded batch, known kinds", () => {
    const ev = { events: [{ time: "2026-01-01T00:00:00Z", level: "warn", kind: "unreadable-file", message: "EACCES", path: "/x" }] };
    expect(eventsRequestSchema.safeParse(ev).success).toBe(true);
    rejects(eventsRequestSchema, ev, "events.0.level", "debug");
    rejects(eventsRequestSchema, ev, "events.0.kind", "whatever");
    rejects(eventsRequestSchema, ev, "events", []);
  });
});
