/**
 * The agent's own typed client against the real handlers over real HTTP
 * (node:http host), PostgreSQL and Azurite: the wire contract end to end.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { createAgentClient, CredentialRejectedError, MissingChunksError, ProtocolError } from "@tidemark/agent-protocol";
import { AzureBlobStore } from "@tidemark/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRestoreJob } from "../src";
import { serveAgentApi } from "../src/http/node-server";
import { chunkId, createWorld, enrollBody, issueToken, type World } from "./fixtures";

let w: World;
let server: Awaited<ReturnType<typeof serveAgentApi>>;
beforeAll(async () => {
  w = await createWorld();
  server = await serveAgentApi(w.svc);
});
afterAll(async () => {
  await server?.close();
  await w?.stop();
});

describe("agent client ↔ server over HTTP", () => {
  it("enrolls, uploads, indexes, commits, restores and reports like the agent does", async () => {
    const anon = createAgentClient({ serverUrl: server.url });
    const enrolled = await anon.enroll(enrollBody(await issueToken(w, w.a1), "wire-01"));
    await expect(anon.enroll(enrollBody(await issueToken(w, w.a1, { expiresAt: new Date(Date.now() - 1) })))).rejects.toBeInstanceOf(CredentialRejectedError);
    const api = createAgentClient({ serverUrl: server.url, credential: `tmm_${enrolled.machineId}.${enrolled.machineSecret}` });

    const hb = await api.heartbeat({ agentVersion: "0.1.0", os: { platform: "linux", release: "6", arch: "x64" }, hostname: "wire", volumes: [], freeBytes: 1, pendingChanges: 2 });
    const policy = await api.getPolicy();
    expect(policy!.etag).toBe(hb.policyEtag);
    expect(await api.getPolicy(policy!.etag)).toBeNull();

    const session = await api.uploadSession();
    const store = new AzureBlobStore({ sasUrl: session.sasUrl });
    const bytes = randomBytes(3000);
    const packId = createHash("sha256").update(bytes).digest("hex");
    await store.put(`data/${packId.slice(0, 2)}/${packId}`, bytes, { ifNotExists: true });
    const tree = chunkId();
    const data = chunkId();
    expect((await api.missingChunks([tree, data])).sort()).toEqual([tree, data].sort());

    const snapshotId = chunkId();
    await store.put(`snapshots/${snapshotId}`, randomBytes(50), { ifNotExists: true });
    const commit = {
      clientPointId: randomUUID(),
      manifest: {
        time: new Date().toISOString(),
        host: "wire",
        sources: ["/srv"],
        rootTree: tree,
        volumes: [],
        consistency: "application" as const,
        stats: { files: 1, dirs: 1, bytes: 3000, readBytes: 3000, newChunks: 2, newBytes: 3000, storedBytes: 3000, durationMs: 1 },
        errors: [{ path: "/srv/locked", error: "EACCES" }],
        snapshotId,
      },
      chunkIds: [data],
    };
    const refused = await api.commitPoint(commit).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(MissingChunksError);
    expect((refused as MissingChunksError).missing.sort()).toEqual([tree, data].sort());

    const salt = randomBytes(32).toString("base64");
    const report = { packId, size: 3000, salt, entries: [{ id: tree, type: 1 as const, offset: 40, length: 500, rawLength: 400 }, { id: data, type: 0 as const, offset: 540, length: 2000, rawLength: 2100 }] };
    expect((await api.reportPack(report)).indexed).toBe(2);
    expect((await api.reportPack(report)).indexed).toBe(2);
    await expect(api.reportPack({ ...report, size: 2999 })).rejects.toBeInstanceOf(ProtocolError);
    expect(await api.missingChunks([tree, data])).toEqual([]);
    const { pointId } = await api.commitPoint(commit);
    expect((await api.commitPoint(commit)).pointId).toBe(pointId);

    await w.database.db.transaction((tx) =>
      createRestoreJob(tx as never, { mspId: w.mspId, customerId: w.a1 }, { machineId: enrolled.machineId, recoveryPointId: pointId, paths: ["/srv/a"], destination: { kind: "folder", path: "/tmp/r" }, conflict: "keep-both" }),
    );
    const job = await api.nextRestoreJob();
    expect(job).toMatchObject({ pointId, snapshotId, paths: ["/srv/a"], destination: { kind: "folder", path: "/tmp/r" } });
    await api.restoreProgress(job!.id, { bytesDone: 5, filesDone: 1, bytesTotal: 10, filesTotal: 2 });
    await api.restoreResult(job!.id, { ok: true, restoredFiles: 2, failed: [] });
    expect(await api.nextRestoreJob()).toBeNull();
    await api.events([{ time: new Date().toISOString(), level: "warn", kind: "unreadable-file", message: "EACCES", path: "/srv/locked" }]);

    const forged = createAgentClient({ serverUrl: server.url, credential: `tmm_${enrolled.machineId}.${randomBytes(32).toString("base64url")}` });
    await expect(forged.heartbeat({ agentVersion: "0.1.0", os: { platform: "linux", release: "6", arch: "x64" }, hostname: "x", volumes: [], freeBytes: 0, pendingChanges: 0 })).rejects.toBeInstanceOf(CredentialRejectedError);
  });

  it("answers unknown paths and wrong methods with JSON errors", async () => {
    const nope = await fetch(`${server.url}/api/agent/v1/nope`);
    expect(nope.status).toBe(404);
    expect(((await nope.json()) as { error: { code: string } }).error.code).toBe("not_found");
    const wrong = await fetch(`${server.url}/api/agent/v1/policy`, { method: "POST" });
    expect(wrong.status).toBe(405);
  });
});
