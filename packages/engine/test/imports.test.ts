import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// The portal bundles the engine with Turbopack, which cannot resolve a
// relative `./x.js` import to `x.ts` (vercel/next.js#82945). Extensionless
// relative imports work everywhere we run (tsc Bundler resolution, tsx, vitest, Turbopack).
function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

describe("engine sources", () => {
  it("use extensionless relative imports", () => {
    const offenders = tsFiles(join(import.meta.dirname, "../src")).flatMap((f) =>
      readFileSync(f, "utf8")
        .split("\n")
        .filter((l) => /(from |import\()["']\.{1,2}\/[^"']*\.js["']/.test(l))
        .map((l) => `${f}: ${l.trim()}`),
    );
    expect(offenders).toEqual([]);
  });
});
