import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CredentialRejectedError, createAgentClient, formatCredential, MissingChunksError, ProtocolError, RetryableApiError } from "../src/index";
import { goodEnroll, goodEnrollResponse, goodPack, goodPoint, hex, uuid } from "./fixtures";

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;
let handler: Handler;
const seen: Array<{ method: string; url: string; auth?: string; body: string; ifNoneMatch?: string }> = [];
let url: string;
const server = createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    seen.push({ method: req.method!, url: req.url!, auth: req.headers.authorization, body, ifNoneMatch: req.headers["if-none-match"] as string | undefined });
    handler(req, body, res);
  });
});
const json = (res: ServerResponse, status: number, v: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(v));
};

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const credential = formatCredential(uuid(1), "s".repeat(43));

describe("agent client over real HTTP", () => {
  it("enrolls without a credential and validates the reply", async () => {
    seen.length = 0;
    handler = (_req, _body, res) => json(res, 200, goodEnrollResponse);
    const r = await createAgentClient({ serverUrl: url }).enroll(goodEnroll as never);
    expect(r.machineId).toBe(uuid(1));
    expect(seen[0]).toMatchObject({ method: "POST", url: "/api/agent/v1/enroll", auth: undefined });
    expect(JSON.parse(seen[0]!.body)).toEqual(goodEnroll);
  });

  it("sends the bearer credential; keeps a server path prefix", async () => {
    seen.length = 0;
    handler = (_req, _body, res) => json(res, 200, { missing: [hex(2)] });
    const c = createAgentClient({ serverUrl: url + "/tenant-a", credential });
    expect(await c.missingChunks([hex(1), hex(2)])).toEqual([hex(2)]);
    expect(seen[0]).toMatchObject({ url: "/tenant-a/api/agent/v1/chunks/missing", auth: `Bearer ${credential}` });
  });

  it("policy: If-None-Match goes out, 304 means unchanged", async () => {
    seen.length = 0;
    handler = (req, _b, res) => (req.headers["if-none-match"] === '"v2"' ? (res.writeHead(304), res.end()) : json(res, 200, { etag: '"v2"', policy: { rpoSeconds: 5 } }, { etag: '"v2"' }));
    const c = createAgentClient({ serverUrl: url, credential });
    const first = await c.getPolicy();
    expect(first?.policy.rpoSeconds).toBe(5);
    expect(await c.getPolicy(first!.etag)).toBeNull();
    expect(seen[1]!.ifNoneMatch).toBe('"v2"');
  });

  it("401 (forged or revoked credential) is fatal", async () => {
    handler = (_r, _b, res) => json(res, 401, { error: { code: "credential_revoked", message: "machine credential revoked" } });
    const e = await createAgentClient({ serverUrl: url, credential }).heartbeat({ agentVersion: "1", os: { platform: "linux", release: "x", arch: "x64" }, hostname: "h", volumes: [], freeBytes: 0, pendingChanges: 0 }).catch((x) => x);
    expect(e).toBeInstanceOf(CredentialRejectedError);
    expect(e).toMatchObject({ fatal: true, retryable: false, status: 401, code: "credential_revoked" });
    expect(e.message).toContain("machine credential revoked");
  });

  it("no credential at all fails locally as fatal, without a request", async () => {
    seen.length = 0;
    await expect(createAgentClient({ serverUrl: url }).uploadSession()).rejects.toBeInstanceOf(CredentialRejectedError);
    expect(seen).toHaveLength(0);
  });

  it("429 is retryable and carries Retry-After", async () => {
    handler = (_r, _b, res) => json(res, 429, { error: { code: "rate_limited", message: "slow down" } }, { "retry-after": "7" });
    const e = await createAgentClient({ serverUrl: url, credential }).uploadSession().catch((x) => x);
    expect(e).toBeInstanceOf(RetryableApiError);
    expect(e).toMatchObject({ retryable: true, status: 429, retryAfterMs: 7000 });
  });

  it("503 with a non-JSON body is retryable", async () => {
    handler = (_r, _b, res) => (res.writeHead(503), res.end("upstream down"));
    const e = await createAgentClient({ serverUrl: url, credential }).nextRestoreJob().catch((x) => x);
    expect(e).toBeInstanceOf(RetryableApiError);
    expect(e.message).toContain("upstream down");
  });

  it("a dropped connection is retryable", async () => {
    handler = (req) => req.socket.destroy();
    const e = await createAgentClient({ serverUrl: url, credential }).events([{ time: new Date().toISOString(), level: "info", kind: "started", message: "x" }]).catch((x) => x);
    expect(e).toBeInstanceOf(RetryableApiError);
  });

  it("a connection dropped halfway through the reply is retryable", async () => {
    handler = (_r, _b, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": "1000" });
      res.write('{"missing":[');
      setTimeout(() => res.socket?.destroy(), 20);
    };
    await expect(createAgentClient({ serverUrl: url, credential }).missingChunks([hex(1)])).rejects.toBeInstanceOf(RetryableApiError);
  });

  it("nobody listening is retryable", async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const e = await createAgentClient({ serverUrl: `http://127.0.0.1:${port}`, credential }).uploadSession().catch((x) => x);
    expect(e).toBeInstanceOf(RetryableApiError);
    expect(e.message).toContain("ECONNREFUSED");
  });

  it("a hung server times out as retryable", async () => {
    handler = () => undefined;
    await expect(createAgentClient({ serverUrl: url, credential, timeoutMs: 150 }).uploadSession()).rejects.toBeInstanceOf(RetryableApiError);
  });

  it("409 on commit carries the missing chunk ids", async () => {
    handler = (_r, _b, res) => json(res, 409, { error: { code: "missing_chunks", message: "not indexed", missing: [hex(4)] } });
    const e = await createAgentClient({ serverUrl: url, credential }).commitPoint(goodPoint as never).catch((x) => x);
    expect(e).toBeInstanceOf(MissingChunksError);
    expect(e.missing).toEqual([hex(4)]);
  });

  it("a reply that breaks the schema is a protocol error, not retried", async () => {
    handler = (_r, _b, res) => json(res, 200, { sasUrl: "nope", container: "c", expiresAt: "later" });
    const e = await createAgentClient({ serverUrl: url, credential }).uploadSession().catch((x) => x);
    expect(e).toBeInstanceOf(ProtocolError);
    expect(e.retryable).toBe(false);
    expect(e.message).toMatch(/sasUrl/);
  });

  it("refuses to send an invalid request (nothing reaches the server)", async () => {
    seen.length = 0;
    await expect(createAgentClient({ serverUrl: url, credential }).reportPack({ ...goodPack, packId: "x" } as never)).rejects.toThrow(/packId/);
    expect(seen).toHaveLength(0);
  });

  it("restore progress/result post to the job's path", async () => {
    seen.length = 0;
    handler = (_r, _b, res) => json(res, 200, { ok: true });
    const c = createAgentClient({ serverUrl: url, credential });
    await c.restoreProgress(uuid(9), { bytesDone: 1, filesDone: 1, bytesTotal: 2, filesTotal: 2 });
    await c.restoreResult(uuid(9), { ok: false, restoredFiles: 1, failed: [{ path: "/a", error: "EACCES" }] });
    expect(seen.map((s) => s.url)).toEqual([`/api/agent/v1/restore-jobs/${uuid(9)}/progress`, `/api/agent/v1/restore-jobs/${uuid(9)}/result`]);
  });

  it("other 4xx is a non-retryable protocol error with the server's message", async () => {
    handler = (_r, _b, res) => json(res, 400, { error: { code: "bad_request", message: "ids.0: must be hex" } });
    const e = await createAgentClient({ serverUrl: url, credential }).missingChunks([hex(1)]).catch((x) => x);
    expect(e).toBeInstanceOf(ProtocolError);
    expect(e.message).toContain("ids.0: must be hex");
  });
});
