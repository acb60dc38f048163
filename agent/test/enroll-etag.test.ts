/**
 * The enrol reply's policy ETag, against servers that send it and older ones that do not
 * (the real server's reply is covered in e2e-bundle-enrol.test.ts).
 */
import { readFile, rm, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { enrollResponseSchema } from "@tidemark/agent-protocol";
import { enroll } from "../src/enroll";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
const stateDir = async () => {
  const d = await mkdtemp(join(tmpdir(), "tm-agent-enrol-"));
  dirs.push(d);
  return join(d, "state");
};

const uuid = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;
const reply = {
  machineId: uuid(1),
  machineSecret: "s".repeat(43),
  customerId: uuid(2),
  dataKey: Buffer.alloc(32, 7).toString("base64"),
  repository: { container: "cust-1", blobEndpoint: "http://127.0.0.1:10000/devstoreaccount1", config: { id: "r1", chunker: { min: 1, avg: 2, max: 4 }, packSize: 65536, zstdLevel: 3, blockSize: 4096 } },
  policy: { rpoSeconds: 30 },
};
/** A server answering every enrol with `body`. */
const server = (body: unknown): typeof fetch => async () => new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } });

describe("enrol reply with the policy ETag", () => {
  it("the schema takes a reply with or without policyEtag (older servers), and refuses a malformed one", () => {
    expect(enrollResponseSchema.parse(reply).policyEtag).toBeUndefined();
    expect(enrollResponseSchema.parse({ ...reply, policyEtag: '"abc"' }).policyEtag).toBe('"abc"');
    expect(enrollResponseSchema.safeParse({ ...reply, policyEtag: "" }).success).toBe(false);
    expect(enrollResponseSchema.safeParse({ ...reply, policyEtag: "x".repeat(201) }).success).toBe(false);
    expect(enrollResponseSchema.safeParse({ ...reply, policyEtag: 42 }).success).toBe(false);
  });

  it("the agent keeps the ETag with the policy; without one it keeps none (its first heartbeat fetches the policy)", async () => {
    const withTag = await stateDir();
    await enroll({ serverUrl: "http://server.invalid", token: "t", name: "m1", stateDir: withTag, fetch: server({ ...reply, policyEtag: '"0123"' }) });
    const a = JSON.parse(await readFile(join(withTag, "machine.json"), "utf8"));
    expect(a.policyEtag).toBe('"0123"');
    expect(a.policy.rpoSeconds).toBe(30);

    const old = await stateDir();
    await enroll({ serverUrl: "http://server.invalid", token: "t", name: "m1", stateDir: old, fetch: server(reply) });
    const b = JSON.parse(await readFile(join(old, "machine.json"), "utf8"));
    expect("policyEtag" in b).toBe(false);
    expect(b.policy.rpoSeconds).toBe(30);
  });

  it("a reply with a broken ETag is refused and nothing is written", async () => {
    const dir = await stateDir();
    await expect(enroll({ serverUrl: "http://server.invalid", token: "t", name: "m1", stateDir: dir, fetch: server({ ...reply, policyEtag: "" }) })).rejects.toThrow(/policyEtag/);
    await expect(readFile(join(dir, "machine.json"))).rejects.toThrow(/ENOENT/);
  });
});
