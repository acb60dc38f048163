import { describe, expect, it } from "vitest";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { formatBackupProgress, scanTotals } from "../src/cli/progress";
import { tempDir } from "./helpers";

async function until(cond: () => boolean) {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
}

describe("backup progress line", () => {
  it("scanTotals counts regular files and bytes, not symlinks, and skips what it cannot read", async () => {
    const t = await tempDir();
    try {
      await mkdir(join(t.dir, "a/b"), { recursive: true });
      await writeFile(join(t.dir, "a/one"), Buffer.alloc(1000));
      await writeFile(join(t.dir, "a/b/two"), Buffer.alloc(2500));
      await symlink("a/one", join(t.dir, "link"));
      const s = scanTotals([t.dir, join(t.dir, "missing")]);
      await until(() => s.done);
      expect(s).toEqual({ files: 2, bytes: 3500, done: true });
    } finally {
      await t.cleanup();
    }
  });

  it("shows percent, rate and ETA once totals are known; lower bounds and no ETA before", () => {
    const tick = { files: 250, bytes: 100 * 1024 * 1024, readBytes: 90 * 1024 * 1024, errors: 0, current: "/src/x" };
    const scanning = formatBackupProgress(tick, { files: 200, bytes: 50 * 1024 * 1024, done: false }, 2);
    expect(scanning).toBe("250/≥250 files  100.0 MiB/≥100.0 MiB  50.0 MiB/s  ETA ?  /src/x");
    const known = formatBackupProgress({ ...tick, errors: 2 }, { files: 1000, bytes: 400 * 1024 * 1024, done: true }, 2);
    expect(known).toBe("25%  250/1,000 files  100.0 MiB/400.0 MiB  50.0 MiB/s  ETA 6s  2 errors  /src/x");
  });
});
