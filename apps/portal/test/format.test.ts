import { describe, expect, it } from "vitest";
import { downloadUrl, formatAge, formatBytes } from "../src/lib/format";

describe("format", () => {
  it("sizes in binary units", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(300 * 1024 * 1024)).toBe("300 MiB");
    expect(formatBytes(null)).toBe("—");
    expect(formatBytes(Number.NaN)).toBe("—");
  });
  it("ages relative to now", () => {
    const now = Date.parse("2026-01-01T12:00:00Z");
    expect(formatAge(null, now)).toBe("never");
    expect(formatAge(new Date(now - 42_000), now)).toBe("42 s ago");
    expect(formatAge(new Date(now - 5 * 60_000), now)).toBe("5 min ago");
    expect(formatAge(new Date(now - 5 * 3600_000), now)).toBe("5 h ago");
    expect(formatAge(new Date(now - 3 * 86400_000).toISOString(), now)).toBe("3 d ago");
    // A clock slightly ahead on the server never shows a negative age.
    expect(formatAge(new Date(now + 5000), now)).toBe("0 s ago");
  });
  it("download links carry the point and the path, encoded", () => {
    expect(downloadUrl("p1", "data/a b&c.txt")).toBe("/api/files/download?pointId=p1&path=data%2Fa+b%26c.txt");
  });
});
