import { describe, expect, it } from "vitest";
import { applyRetention, parseDuration, type PointInfo } from "../src/retention";

const at = (id: string, time: string, host = "h"): PointInfo => ({ id, time, host, paths: ["/data"] });

describe("GFS retention", () => {
  const points = [
    at("a", "2026-01-01T10:00:00Z"),
    at("b", "2026-01-01T11:30:00Z"),
    at("c", "2026-01-01T11:45:00Z"),
    at("d", "2026-01-02T09:00:00Z"),
    at("e", "2026-01-09T09:00:00Z"),
    at("f", "2026-02-01T09:00:00Z"),
    at("g", "2026-02-01T09:10:00Z"),
  ];

  it("keep-last keeps the newest N", () => {
    const d = applyRetention(points, { last: 2 });
    expect(d.keep.map((k) => k.id)).toEqual(["g", "f"]);
    expect(d.remove.sort()).toEqual(["a", "b", "c", "d", "e"]);
  });

  it("daily keeps the newest point of each of the last N days", () => {
    expect(applyRetention(points, { daily: 3 }).keep.map((k) => k.id)).toEqual(["g", "e", "d"]);
  });

  it("hourly, weekly, monthly and yearly buckets", () => {
    expect(applyRetention(points, { hourly: 3 }).keep.map((k) => k.id)).toEqual(["g", "e", "d"]);
    expect(applyRetention(points, { weekly: 2 }).keep.map((k) => k.id)).toEqual(["g", "e"]);
    expect(applyRetention(points, { monthly: 5 }).keep.map((k) => k.id)).toEqual(["g", "e"]);
    expect(applyRetention(points, { yearly: 1 }).keep.map((k) => k.id)).toEqual(["g"]);
  });

  it("keep-within is measured from the newest point; rules combine with reasons", () => {
    const d = applyRetention(points, { within: parseDuration("1d"), last: 1 });
    expect(d.keep).toEqual([
      { id: "g", reasons: ["last", "within"] },
      { id: "f", reasons: ["within"] },
    ]);
  });

  it("groups by host and paths", () => {
    const d = applyRetention([...points, at("x", "2025-01-01T00:00:00Z", "other")], { last: 1 });
    expect(d.keep.map((k) => k.id).sort()).toEqual(["g", "x"]);
  });

  it("refuses an empty policy and bad durations", () => {
    expect(() => applyRetention(points, {})).toThrow(/refusing/);
    expect(() => parseDuration("3 days")).toThrow(/not a duration/);
    expect(parseDuration("1w2d")).toBe(9 * 24 * 3600_000);
  });
});
