import { randomBytes } from "node:crypto";
import {
  ContainerClient,
  ContainerSASPermissions,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
} from "@azure/storage-blob";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AzureBlobStore,
  BlobNotFoundError,
  StorageError,
  customerContainerName,
  isValidContainerName,
} from "../src/index";
import { blobStoreContract } from "../src/testing/contract";
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite, type AzuriteHandle } from "../src/testing/azurite";

let azurite: AzuriteHandle;
beforeAll(async () => {
  azurite = await startAzurite({ inMemory: true });
});
afterAll(async () => {
  await azurite?.stop();
});

let n = 0;
const freshName = () => `c${process.pid}-${Date.now().toString(36)}-${n++}`;

async function freshStore(opts: { singleShotLimit?: number; blockSize?: number; listPageSize?: number } = {}) {
  const store = new AzureBlobStore({ connectionString: azurite.connectionString, container: freshName(), ...opts });
  await store.ensureContainer();
  return { store, cleanup: async () => void (await store.containerClient.deleteIfExists()) };
}

// Small single-shot limit and blocks so the 20 MiB case exercises parallel block upload.
// Paging: Azurite 3.35 scans its Loki collection on every put (5001 puts take
// 15–25 s here), so this run lists 601 keys in pages of 100 instead of 5001 in
// pages of 5000 — the same continuation-token path, seven pages deep.
blobStoreContract(
  "azure (Azurite)",
  () => freshStore({ singleShotLimit: 1024 * 1024, blockSize: 1024 * 1024, listPageSize: 100 }),
  { putConcurrency: 4, manyKeys: 601 },
);

describe("AzureBlobStore", () => {
  it("accepts account + key with an explicit endpoint", async () => {
    const container = freshName();
    const store = new AzureBlobStore({ account: AZURITE_ACCOUNT, accountKey: AZURITE_KEY, endpoint: azurite.blobEndpoint, container });
    await store.ensureContainer();
    await store.put("k", Buffer.from("v"));
    expect((await store.get("k")).toString()).toBe("v");
    expect(store.description).toBe(`azure:${AZURITE_ACCOUNT}/${container}`);
  });

  it("refuses bad options with one clear line and never echoes a secret", () => {
    expect(() => new AzureBlobStore({ container: "x" })).toThrow(/exactly one of/);
    expect(() => new AzureBlobStore({ connectionString: azurite.connectionString, container: "Bad_Name" })).toThrow(
      /invalid container name "Bad_Name"/,
    );
    expect(() => new AzureBlobStore({ connectionString: azurite.connectionString })).toThrow(/container is required/);
    const err = (() => {
      try {
        new AzureBlobStore({ sasUrl: "https://acct.blob.core.windows.net/c1?sv=1&sig=SECRETSIG", container: "c2" });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err?.message).toMatch(/sasUrl is for container "c1", not "c2"/);
    expect(err?.message).not.toContain("SECRETSIG");
  });

  it("reports an unreachable endpoint as a transient error without leaking the SAS", async () => {
    const dead = new AzureBlobStore({ sasUrl: "http://127.0.0.1:1/devstoreaccount1/box?sv=2024-01-01&sig=TOPSECRET" });
    expect(dead.container).toBe("box");
    const err = await dead.get("k").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).transient).toBe(true);
    expect((err as Error).message).not.toContain("TOPSECRET");
    expect((err as Error).message).toContain("azure:devstoreaccount1/box");
  });

  it("says clearly when the container does not exist", async () => {
    const store = new AzureBlobStore({ connectionString: azurite.connectionString, container: freshName() });
    const err = await store.put("k", Buffer.from("v")).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/container .* does not exist/);
    expect((err as StorageError).transient).toBe(false);
  });

  it("stores the whole-object MD5 on block uploads too", async () => {
    const { store, cleanup } = await freshStore({ singleShotLimit: 64 * 1024, blockSize: 64 * 1024 });
    const data = randomBytes(300 * 1024);
    await store.put("packs/p", data);
    const meta = await store.head("packs/p");
    expect(Buffer.from(meta!.contentMD5!).toString("hex")).toBe(
      (await import("node:crypto")).createHash("md5").update(data).digest("hex"),
    );
    await cleanup();
  });

  it("puts a 16 MiB pack in one Put Blob by default (verified by the service, each byte hashed once)", async () => {
    const { store, cleanup } = await freshStore();
    const data = randomBytes(16 * 1024 * 1024 + 4096);
    await store.put("packs/big", data, { ifNotExists: true });
    // A block upload would leave committed blocks; a Put Blob leaves none.
    const blocks = await store.containerClient.getBlockBlobClient("packs/big").getBlockList("committed");
    expect(blocks.committedBlocks ?? []).toHaveLength(0);
    const meta = await store.head("packs/big");
    expect(meta?.size).toBe(data.length);
    expect(Buffer.from(meta!.contentMD5!).equals((await import("node:crypto")).createHash("md5").update(data).digest())).toBe(true);
    expect((await store.get("packs/big")).equals(data)).toBe(true);
    await cleanup();
  });

  describe("upload SAS", () => {
    it("lets an agent create, write and read, but not delete or list", async () => {
      const { store, cleanup } = await freshStore();
      await store.put("existing", Buffer.from("keep me"));
      const sas = await store.createContainerUploadSas({ expiresInMinutes: 15 });
      expect(sas.permissions).toBe("racw");
      expect(sas.container).toBe(store.container);
      expect(sas.expiresOn.getTime() - Date.now()).toBeGreaterThan(14 * 60_000);

      const agent = new AzureBlobStore({ sasUrl: sas.url });
      expect(agent.description).not.toContain("sig=");
      await agent.put("packs/new", Buffer.from("pack"), { ifNotExists: true });
      expect((await agent.get("packs/new")).toString()).toBe("pack");
      expect((await agent.head("packs/new"))?.size).toBe(4);

      const del = await agent.delete("existing").catch((e: unknown) => e);
      expect(del).toBeInstanceOf(StorageError);
      expect((del as StorageError).status).toBe(403);
      expect((del as Error).message).toMatch(/access denied deleting existing/);
      expect((await store.get("existing")).toString()).toBe("keep me");

      const list = await (async () => {
        for await (const _ of agent.list("")) return "listed";
      })().catch((e: unknown) => e);
      expect(list).toBeInstanceOf(StorageError);
      expect((list as StorageError).status).toBe(403);

      // Raw SDK with the same URL: the refusal comes from the service, not from our wrapper.
      const raw = new ContainerClient(sas.url);
      await expect(raw.getBlobClient("existing").delete()).rejects.toMatchObject({ statusCode: 403 });
      await expect(raw.listBlobsFlat().next()).rejects.toMatchObject({ statusCode: 403 });
      await cleanup();
    });

    it("is scoped to its container", async () => {
      const a = await freshStore();
      const b = await freshStore();
      await b.store.put("secret", Buffer.from("b's data"));
      const sas = await a.store.createContainerUploadSas({ expiresInMinutes: 5 });
      const forged = new ContainerClient(sas.url.replace(`/${a.store.container}?`, `/${b.store.container}?`));
      await expect(forged.getBlobClient("secret").downloadToBuffer()).rejects.toMatchObject({ statusCode: 403 });
      await a.cleanup();
      await b.cleanup();
    });

    it("signs for another container of the same account, and refuses long or SAS-only requests", async () => {
      const { store, cleanup } = await freshStore();
      const other = freshName();
      const sas = await store.createContainerUploadSas({ container: other, expiresInMinutes: 60 });
      expect(sas.container).toBe(other);
      expect(sas.url).toContain(`/${other}?`);
      await expect(store.createContainerUploadSas({ expiresInMinutes: 61 })).rejects.toThrow(/1 to 60/);
      await expect(store.createContainerUploadSas({ expiresInMinutes: 0 })).rejects.toThrow(/1 to 60/);
      const sasOnly = new AzureBlobStore({ sasUrl: sas.url });
      await expect(sasOnly.createContainerUploadSas({ expiresInMinutes: 5 })).rejects.toThrow(/needs the account key/);
      await cleanup();
    });
  });

  it("refuses a tampered or expired SAS with a permanent 403 (the agent must fetch a new one)", async () => {
    const { store, cleanup } = await freshStore();
    const sas = await store.createContainerUploadSas({ expiresInMinutes: 5 });
    const tampered = new AzureBlobStore({ sasUrl: sas.url.replace("sp=racw", "sp=racwdl") });
    const err = await tampered.delete("x").catch((e: unknown) => e);
    expect((err as StorageError).status).toBe(403);
    await expect(tampered.get("x")).rejects.not.toBeInstanceOf(BlobNotFoundError);

    const expired = generateBlobSASQueryParameters(
      {
        containerName: store.container,
        permissions: ContainerSASPermissions.parse("racw"),
        startsOn: new Date(Date.now() - 20 * 60_000),
        expiresOn: new Date(Date.now() - 10 * 60_000),
      },
      new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
    ).toString();
    const late = new AzureBlobStore({ sasUrl: `${store.containerClient.url}?${expired}` });
    const put = await late.put("packs/p", Buffer.from("x")).catch((e: unknown) => e);
    expect(put).toBeInstanceOf(StorageError);
    expect((put as StorageError).status).toBe(403);
    expect((put as StorageError).transient).toBe(false);
    expect(await store.head("packs/p")).toBeNull();
    await cleanup();
  });
});

describe("customerContainerName", () => {
  it("is deterministic, valid and distinct for ids that slugify alike", () => {
    const ids = [
      "acme",
      "ACME",
      "3f2b8c1e-9d4a-4b7e-8f6a-2c1d0e9b8a7f",
      "Ünïcode Customer GmbH & Co. KG",
      "--",
      "a".repeat(500),
      "x",
      "customer/../../etc",
    ];
    const names = ids.map(customerContainerName);
    for (const name of names) {
      expect(isValidContainerName(name), name).toBe(true);
      expect(name.length).toBeGreaterThanOrEqual(3);
      expect(name.length).toBeLessThanOrEqual(63);
    }
    expect(new Set(names).size).toBe(ids.length);
    expect(ids.map(customerContainerName)).toEqual(names);
    expect(customerContainerName("acme")).toMatch(/^tm-acme-[0-9a-f]{10}$/);
  });

  it("refuses an empty id", () => {
    expect(() => customerContainerName("  ")).toThrow(/customerId must not be empty/);
  });
});
