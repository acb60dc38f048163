import { describe, expect, it, beforeAll, afterAll } from "vitest";
import { spawn } from "node:child_process";
import { mkdir, readFile, rm, writeFile, readdir, stat } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { tempDir } from "./helpers";
import { cli, NODE_ARGS } from "./cli-run";
// @ts-expect-error plain JS module without types
import { ensureBundle } from "../src/cli/bundle.mjs";
import { makeCorpus } from "./fs-helpers";

// Each step spawns the real CLI (≈1–2 s of start-up on an idle box, far more on a loaded one).
describe("tidemark CLI end to end (local repository)", { timeout: 240_000 }, () => {
  let work: { dir: string; cleanup: () => Promise<void> };
  let repo: string;
  let src: string;
  beforeAll(async () => {
    work = await tempDir("tm-cli-");
    repo = join(work.dir, "repo");
    src = join(work.dir, "src");
    await makeCorpus(src);
  });
  afterAll(async () => work.cleanup());

  it("init, backup, points, ls, restore, check, stats, diff", async () => {
    const small = ["--chunk-min", "4096", "--chunk-avg", "16384", "--chunk-max", "65536"];
    const init = await cli(["init", "--repo", repo, ...small, "--json"]);
    expect(init.stderr).toBe("");
    expect(init.code).toBe(0);
    expect(JSON.parse(init.stdout).config.chunker).toEqual({ min: 4096, avg: 16384, max: 65536 });
    expect((await cli(["init", "--repo", repo])).stderr).toMatch(/already exists/);

    const b1 = await cli(["backup", "--repo", repo, src, "--json"]);
    expect(b1.code).toBe(0);
    const p1 = JSON.parse(b1.stdout).id as string;
    await writeFile(join(src, "new.txt"), "new file");
    const b2 = await cli(["backup", "--repo", repo, src]);
    expect(b2.code).toBe(0);
    expect(b2.stdout).toMatch(/recovery point [0-9a-f]{12} saved: 7 files/);

    const pts = JSON.parse((await cli(["points", "--repo", repo, "--json"])).stdout);
    expect(pts.map((p: { id: string }) => p.id)[0]).toBe(p1);
    expect(pts).toHaveLength(2);

    const ls = await cli(["ls", "--repo", repo, `latest:${src}/docs`]);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toContain(`${src}/docs/deep/big.bin`);
    expect(ls.stdout).toMatch(/file\s+0644\s+30000 .* \/.*docs\/a\.txt/);

    const diff = await cli(["diff", "--repo", repo, p1.slice(0, 8), "latest"]);
    expect(diff.stdout).toContain(`+  ${src}/new.txt`);

    const target = join(work.dir, "restored");
    const r = await cli(["restore", "--repo", repo, "latest", "--target", target]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect((await readFile(join(target, src, "new.txt"))).toString()).toBe("new file");
    expect(await readFile(join(target, src, "docs/deep/big.bin"))).toEqual(await readFile(join(src, "docs/deep/big.bin")));

    // The id re-check on top of the GCM tag (a writer-bug guard) restores the same bytes.
    const rechecked = join(work.dir, "rechecked");
    const rv = await cli(["restore", "--repo", repo, "latest", "--target", rechecked, "--verify-ids"]);
    expect(rv.stderr).toBe("");
    expect(rv.code).toBe(0);
    expect(await readFile(join(rechecked, src, "docs/deep/big.bin"))).toEqual(await readFile(join(src, "docs/deep/big.bin")));

    const one = join(work.dir, "one");
    expect((await cli(["restore", "--repo", repo, `${p1}:${src}/docs/a.txt`, "--target", one])).code).toBe(0);
    expect(await readdir(one)).toEqual(["a.txt"]);

    const check = await cli(["check", "--repo", repo, "--read-data"]);
    expect(check.stdout).toContain("no errors found");
    expect(check.code).toBe(0);

    const stats = JSON.parse((await cli(["stats", "--repo", repo, "--json"])).stdout);
    expect(stats.points).toBe(2);
    expect(stats.logicalBytes).toBeGreaterThan(stats.storedBytes);
  });

  it("the bundled CLI loads the Azure SDK only for azure:// repositories (a lazy chunk)", async () => {
    expect((await cli(["--help"])).code).toBe(0); // builds the bundle when stale
    const dir = await ensureBundle();
    // Everything tidemark.js imports statically, transitively.
    const seen = new Set<string>();
    const visit = async (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = await readFile(join(dir, file), "utf8");
      for (const m of text.matchAll(/^import\s[^;]*?from\s*"\.\/([^"]+)"|^import\s*"\.\/([^"]+)"/gm)) await visit(m[1] ?? m[2]!);
    };
    await visit("tidemark.js");
    const eager = await Promise.all([...seen].map((f) => readFile(join(dir, f), "utf8")));
    expect(eager.some((t) => t.includes("var BlobServiceClient = class"))).toBe(false);
    const all = await Promise.all((await readdir(dir)).filter((f) => f.endsWith(".js")).map((f) => readFile(join(dir, f), "utf8")));
    expect(all.some((t) => t.includes("var BlobServiceClient = class"))).toBe(true);
  });

  it("wrong password → one clear line, exit 2; bad usage → exit 2", async () => {
    const r = await cli(["points", "--repo", repo], { TIDEMARK_PASSWORD: "nope" });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toEqual(["tidemark: wrong password: no repository key could be opened with it"]);
    const pwFile = join(work.dir, "pw");
    await writeFile(pwFile, "pw-e2e\n");
    expect((await cli(["points", "--repo", repo, "--password-file", pwFile], { TIDEMARK_PASSWORD: "" })).code).toBe(0);
    expect((await cli(["points", "--repo", repo], { TIDEMARK_PASSWORD: "" })).stderr).toMatch(/no password/);
    expect((await cli(["frobnicate"])).code).toBe(2);
    expect((await cli(["check", "--repo", repo, "--subset", "150%", "--read-data"])).stderr).toMatch(/--subset must be/);
    expect((await cli(["points", "--repo", join(work.dir, "nothing-here")])).stderr).toMatch(/no repository at/);
  });

  it("a prune while another prune holds the repository lock exits 11 with one clear line", async () => {
    const lock = join(repo, "locks", "prune-0000000001");
    await mkdir(join(repo, "locks"), { recursive: true });
    await writeFile(lock, JSON.stringify({ host: "other-host", pid: 4242, time: new Date().toISOString(), token: "t" }));
    const r = await cli(["prune", "--repo", repo]);
    expect(r.code).toBe(11);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^tidemark: another prune is running on this repository \(host other-host, pid 4242/);
    await rm(lock);
    const ok = await cli(["prune", "--repo", repo, "--json"]);
    expect(ok.code).toBe(0);
    expect(await readdir(join(repo, "locks"))).toEqual([]);
  });

  it("check --read-data names a flipped bit and restore of unaffected files still works (exit 1 for the rest)", async () => {
    // Damage the biggest data pack.
    const packs: Array<{ path: string; size: number }> = [];
    for (const d of await readdir(join(repo, "data"))) for (const f of await readdir(join(repo, "data", d))) packs.push({ path: join(repo, "data", d, f), size: (await stat(join(repo, "data", d, f))).size });
    packs.sort((a, b) => b.size - a.size);
    const victim = packs[0]!;
    const bytes = await readFile(victim.path);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x04;
    await writeFile(victim.path, bytes);
    const packId = victim.path.split("/").at(-1)!;

    const c = await cli(["check", "--repo", repo, "--read-data"]);
    expect(c.code).toBe(1);
    expect(c.stdout).toContain(`DAMAGED pack ${packId}`);
    expect(c.stdout).toMatch(new RegExp(`DAMAGED chunk [0-9a-f]{64} \\(pack ${packId}\\)`));
    expect(c.stdout).toMatch(/AFFECTED point [0-9a-f]{12} .*: \//);

    const target = join(work.dir, "after-damage");
    const r = await cli(["restore", "--repo", repo, "latest", "--target", target]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAILED/);
    expect((await readFile(join(target, src, "new.txt"))).toString()).toBe("new file");
  });

  it("a backup killed with SIGKILL mid-upload leaves the repository checkable; the next backup succeeds; forget --prune cleans up", async () => {
    const killRepo = join(work.dir, "kill-repo");
    const big = join(work.dir, "big");
    await mkdir(big);
    for (let i = 0; i < 24; i++) await writeFile(join(big, `f${i}.bin`), randomBytes(2 * 1024 * 1024));
    expect((await cli(["init", "--repo", killRepo, "--pack-size", "1"])).code).toBe(0);

    const child = spawn(process.execPath, [...NODE_ARGS, "backup", "--repo", killRepo, big], { env: { ...process.env, TIDEMARK_PASSWORD: "pw-e2e" }, stdio: "ignore" });
    const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
    // Kill as soon as the first pack is durable: uploads are under way, no point is written yet.
    for (let i = 0; i < 600; i++) {
      const dirs = await readdir(join(killRepo, "data")).catch(() => [] as string[]);
      let packs = 0;
      for (const d of dirs) packs += (await readdir(join(killRepo, "data", d)).catch(() => [] as string[])).filter((f) => !f.startsWith(".")).length;
      if (packs > 0) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    child.kill("SIGKILL");
    expect(await exited).toBe(null);
    expect(JSON.parse((await cli(["points", "--repo", killRepo, "--json"])).stdout)).toEqual([]);

    const c1 = await cli(["check", "--repo", killRepo, "--read-data", "--json"]);
    expect(c1.code).toBe(0);
    expect(JSON.parse(c1.stdout).unindexedPacks.length).toBeGreaterThan(0);

    const b = await cli(["backup", "--repo", killRepo, big, "--json"]);
    expect(b.code).toBe(0);
    const c2 = await cli(["check", "--repo", killRepo, "--read-data"]);
    expect(c2.code).toBe(0);

    // Leftovers of the killed run go with an immediate grace period; the point stays intact.
    const p = await cli(["forget", "--repo", killRepo, "--keep-last", "1", "--prune", "--grace", "0h", "--json"]);
    expect(p.code).toBe(0);
    expect(JSON.parse(p.stdout).prune.unindexedDeleted.length).toBeGreaterThan(0);
    const c3 = await cli(["check", "--repo", killRepo, "--read-data", "--json"]);
    expect(JSON.parse(c3.stdout)).toMatchObject({ ok: true, unindexedPacks: [] });
    const target = join(work.dir, "kill-restore");
    expect((await cli(["restore", "--repo", killRepo, "latest", "--target", target])).code).toBe(0);
    expect((await readFile(join(target, big, "f7.bin"))).equals(await readFile(join(big, "f7.bin")))).toBe(true);
  });
});
