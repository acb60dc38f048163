import { createHash, randomBytes, randomUUID } from "node:crypto";
import { issueToken } from "../src/testing";
import type { AgentRouteName } from "../src/http";
import { routes, type EnrollResponse } from "@tidemark/agent-protocol";

export { createWorld, issueToken, type World } from "../src/testing";
import { type World } from "../src/testing";

export type Reply = { status: number; body: any; headers: Headers };

export async function call(
  w: World,
  name: AgentRouteName,
  init: { body?: unknown; credential?: string; authorization?: string; params?: Record<string, string>; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const route = routes[name];
  let path: string = route.path;
  for (const [k, v] of Object.entries(init.params ?? {})) path = path.replace(`:${k}`, v);
  const headers: Record<string, string> = { ...init.headers };
  if (init.credential) headers.authorization = `Bearer ${init.credential}`;
  if (init.authorization !== undefined) headers.authorization = init.authorization;
  let payload: string | undefined;
  if (init.body !== undefined) {
    payload = typeof init.body === "string" ? init.body : JSON.stringify(init.body);
    headers["content-type"] = "application/json";
  }
  const req = new Request(`http://portal.test/api/agent/v1${path}`, { method: route.method, headers, body: payload });
  const res = await w.api[name](req, init.params);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

export const enrollBody = (token: string, name = "srv-01") => ({
  token,
  name,
  hostname: `${name}.corp.local`,
  os: { platform: "linux" as const, release: "6.1.0", arch: "x64" },
  agentVersion: "0.1.0",
});

export type Enrolled = EnrollResponse & { credential: string };

export async function enroll(w: World, customerId: string, name = "srv-01"): Promise<Enrolled> {
  const r = await call(w, "enroll", { body: enrollBody(await issueToken(w, customerId), name) });
  if (r.status !== 201) throw new Error(`enroll failed: ${r.status} ${JSON.stringify(r.body)}`);
  return { ...r.body, credential: `tmm_${r.body.machineId}.${r.body.machineSecret}` };
}

export const chunkId = () => randomBytes(32).toString("hex");

/** A pack object in the customer's container; the server checks presence and size, not contents. */
export async function putPack(w: World, customerId: string, size = 4096): Promise<{ packId: string; size: number }> {
  const bytes = randomBytes(size);
  const packId = createHash("sha256").update(bytes).digest("hex");
  const { store } = w.svc.blobs.container(customerId);
  await store.put(`data/${packId.slice(0, 2)}/${packId}`, bytes, { ifNotExists: true });
  return { packId, size };
}

export function packReport(pack: { packId: string; size: number }, ids: string[]) {
  return {
    packId: pack.packId,
    size: pack.size,
    salt: randomBytes(32).toString("base64"),
    entries: ids.map((id, i) => ({ id, type: 0 as const, offset: 40 + i * 64, length: 64, rawLength: 100 })),
  };
}

export async function putSnapshot(w: World, customerId: string): Promise<string> {
  const id = chunkId();
  await w.svc.blobs.container(customerId).store.put(`snapshots/${id}`, randomBytes(64), { ifNotExists: true });
  return id;
}

export function pointBody(opts: { rootTree: string; snapshotId: string; chunkIds?: string[]; clientPointId?: string }) {
  return {
    clientPointId: opts.clientPointId ?? randomUUID(),
    manifest: {
      time: new Date().toISOString(),
      host: "srv-01",
      sources: ["/data"],
      rootTree: opts.rootTree,
      volumes: [],
      consistency: "crash" as const,
      stats: { files: 1, dirs: 1, bytes: 100, readBytes: 100, newChunks: 1, newBytes: 100, storedBytes: 64, durationMs: 5 },
      errors: [],
      snapshotId: opts.snapshotId,
    },
    chunkIds: opts.chunkIds,
  };
}

export const heartbeatBody = {
  agentVersion: "0.1.0",
  os: { platform: "linux" as const, release: "6.1.0", arch: "x64" },
  hostname: "srv-01.corp.local",
  volumes: [{ path: "/", fs: "ext4", sizeBytes: 100, freeBytes: 50 }],
  freeBytes: 50,
  pendingChanges: 0,
};
