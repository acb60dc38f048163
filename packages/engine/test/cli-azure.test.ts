import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { startAzurite, type AzuriteHandle } from "@tidemark/storage/testing";
import { cli } from "./cli-run";
import { makeCorpus } from "./fs-helpers";
import { tempDir } from "./helpers";

/** Only the connection string: the account settings the CLI reads through @tidemark/config. */
const NO_AZURE = { AZURE_STORAGE_CONNECTION_STRING: undefined, AZURE_STORAGE_ACCOUNT: undefined, AZURE_STORAGE_KEY: undefined, AZURE_STORAGE_SAS_URL: undefined };

describe("tidemark CLI against --repo azure://CONTAINER (in-process Azurite)", { timeout: 240_000 }, () => {
  let az: AzuriteHandle;
  let work: { dir: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    az = await startAzurite({ inMemory: true });
    work = await tempDir("tm-cli-azure-");
  });
  afterAll(async () => {
    await az?.stop();
    await work?.cleanup();
  });

  it("init, backup, points, restore and check --read-data through Azure Blob", async () => {
    const env = { ...NO_AZURE, AZURE_STORAGE_CONNECTION_STRING: az.connectionString };
    const src = join(work.dir, "src");
    await makeCorpus(src);
    const repo = "azure://cli-e2e";
    const init = await cli(["init", "--repo", repo, "--chunk-min", "4096", "--chunk-avg", "16384", "--chunk-max", "65536", "--json"], env);
    expect(init.stderr).toBe("");
    expect(JSON.parse(init.stdout).repo).toBe("azure:devstoreaccount1/cli-e2e");

    const b = await cli(["backup", "--repo", repo, src, "--json"], env);
    expect(b.stderr).toBe("");
    expect(b.code).toBe(0);
    const id = JSON.parse(b.stdout).id as string;
    const pts = JSON.parse((await cli(["points", "--repo", repo, "--json"], env)).stdout);
    expect(pts.map((p: { id: string }) => p.id)).toEqual([id]);

    const target = join(work.dir, "restored");
    const r = await cli(["restore", "--repo", repo, "latest", "--target", target], env);
    expect(r.code).toBe(0);
    expect(await readFile(join(target, src, "docs/deep/big.bin"))).toEqual(await readFile(join(src, "docs/deep/big.bin")));

    const c = await cli(["check", "--repo", repo, "--read-data", "--json"], env);
    expect(c.code).toBe(0);
    expect(JSON.parse(c.stdout)).toMatchObject({ ok: true });
  });

  it("wrong password and missing account settings are one clear line, exit 2", async () => {
    const env = { ...NO_AZURE, AZURE_STORAGE_CONNECTION_STRING: az.connectionString };
    const init = await cli(["init", "--repo", "azure://cli-pw"], env);
    expect(init.code).toBe(0);
    const wrong = await cli(["points", "--repo", "azure://cli-pw"], { ...env, TIDEMARK_PASSWORD: "not-it" });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr.trim().split("\n")).toEqual(["tidemark: wrong password: no repository key could be opened with it"]);

    const none = await cli(["points", "--repo", "azure://cli-pw"], NO_AZURE);
    expect(none.code).toBe(2);
    expect(none.stderr.trim().split("\n")).toHaveLength(1);
    expect(none.stderr).toMatch(/azure:\/\/cli-pw needs AZURE_STORAGE_CONNECTION_STRING/);
  });
});
