/**
 * An in-memory stand-in for the server side of the agent API, strictly on the
 * protocol schemas (every request body is parsed with them, every reply is
 * checked against them before it is sent).
 *
 * The e2e suite and the latency/throughput benchmarks run against the real server
 * (test/real-server.ts). This stand-in is kept only for bench/idle.ts: 100k chunk ids
 * through PostgreSQL take minutes on the shared dev box before the idle minute can
 * start, and the idle cost is the agent's alone.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { z } from "zod";
import { API_PREFIX, commitChunkIds, missingRequestIds, packReportEntries, type MissingRequest, parseCredential, policySchema, routes, type Policy, type PointManifest, type RepositoryConfig } from "@tidemark/agent-protocol";
import { AzureBlobStore } from "@tidemark/storage";
import { BlobServiceClient, ContainerSASPermissions } from "@azure/storage-blob";
import type { RestoreJob } from "@tidemark/agent-protocol";
import { Repository } from "../src/engine";

export interface FakeServerOptions {
  azureConnectionString: string;
  blobEndpoint: string;
  policy: Partial<Policy>;
  repoConfig?: Partial<RepositoryConfig>;
}

export interface ReportedPack {
  packId: string;
  size: number;
  ids: string[];
}

export interface RestoreJobEntry {
  job: Omit<RestoreJob, "readSasUrl" | "expiresAt">;
  state: "queued" | "running" | "done";
  progress: unknown[];
  result?: { ok: boolean; restoredFiles: number; failed: Array<{ path: string; error: string }> };
}

export class FakeServer {
  readonly kek = randomBytes(32);
  readonly master = randomBytes(32);
  readonly customerId = randomUUID();
  readonly container = `cust-${randomBytes(6).toString("hex")}`;
  readonly repoConfig: RepositoryConfig;
  readonly tokens = new Set<string>();
  readonly machines = new Map<string, { secretHash: string; name: string; revoked: boolean }>();
  readonly index = new Map<string, string>();
  readonly packs: ReportedPack[] = [];
  readonly points = new Map<string, { pointId: string; manifest: PointManifest; at: number }>();
  readonly events: Array<{ time: string; kind: string; message: string; path?: string }> = [];
  readonly heartbeats: unknown[] = [];
  readonly log: string[] = [];
  policy: Policy;
  policyEtag = '"1"';
  readonly restoreJobs: RestoreJobEntry[] = [];
  /** Restore progress/result that arrived after the job's result. */
  lateReports = 0;
  readonly azure: AzureBlobStore;
  private server = createServer((req, res) => void this.handle(req, res));
  url = "";

  constructor(private readonly opts: FakeServerOptions) {
    this.policy = policySchema.parse(opts.policy);
    this.repoConfig = { id: randomBytes(16).toString("hex"), chunker: { min: 64 * 1024, avg: 256 * 1024, max: 1024 * 1024 }, packSize: 4 * 1024 * 1024, zstdLevel: 3, blockSize: 64 * 1024, ...opts.repoConfig };
    this.azure = new AzureBlobStore({ connectionString: opts.azureConnectionString, container: this.container });
  }

  async start(): Promise<this> {
    await this.azure.ensureContainer();
    await Repository.initWithMasterKey(this.azure, this.master, { kek: this.kek }, { kekId: "service", config: this.repoConfig });
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  newToken(): string {
    const t = `tok_${randomBytes(12).toString("hex")}`;
    this.tokens.add(t);
    return t;
  }

  setPolicy(p: Partial<Policy>) {
    this.policy = policySchema.parse({ ...this.policy, ...p });
    this.policyEtag = `"${Number(this.policyEtag.slice(1, -1)) + 1}"`;
  }

  addRestoreJob(j: Pick<RestoreJob, "snapshotId" | "paths" | "destination" | "conflict">): RestoreJobEntry {
    const entry: RestoreJobEntry = { job: { id: randomUUID(), pointId: randomUUID(), ...j }, state: "queued", progress: [] };
    this.restoreJobs.push(entry);
    return entry;
  }

  committed(): PointManifest[] {
    return [...this.points.values()].sort((a, b) => a.at - b.at).map((p) => p.manifest);
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const url = new URL(req.url!, "http://x");
    this.log.push(`${req.method} ${url.pathname}`);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(JSON.stringify(body));
    };
    const fail = (status: number, code: string, message: string, extra: object = {}) => send(status, { error: { code, message, ...extra } });
    if (!url.pathname.startsWith(API_PREFIX + "/")) return fail(404, "not_found", url.pathname);
    const path = url.pathname.slice(API_PREFIX.length);
    const entry = Object.entries(routes).find(([, r]) => r.method === req.method && new RegExp(`^${r.path.replace(":id", "[^/]+")}$`).test(path));
    if (!entry) return fail(404, "not_found", `${req.method} ${path}`);
    const [name, route] = entry;
    let machineId: string | undefined;
    if (route.auth) {
      const cred = parseCredential(req.headers.authorization);
      const m = cred && this.machines.get(cred.machineId);
      if (!cred || !m || m.revoked || m.secretHash !== sha(cred.secret)) return fail(401, "bad_credential", "machine credential is not valid");
      machineId = cred.machineId;
    }
    let body: unknown;
    if (route.request) {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        return fail(400, "bad_json", "body is not JSON");
      }
      const parsed = (route.request as z.ZodType).safeParse(json);
      if (!parsed.success) return fail(400, "bad_request", parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
      body = parsed.data;
    }
    const reply = (v: unknown, headers?: Record<string, string>) => {
      // The fake checks its own replies: a test passing against a reply the schema refuses proves nothing.
      (route.response as z.ZodType).parse(v);
      send(200, v, headers);
    };
    switch (name) {
      case "enroll": {
        const b = body as z.infer<typeof routes.enroll.request>;
        if (!this.tokens.delete(b.token)) return fail(401, "bad_token", "enrollment token is unknown, used or expired");
        const id = randomUUID();
        const secret = randomBytes(32).toString("base64url");
        this.machines.set(id, { secretHash: sha(secret), name: b.name, revoked: false });
        return reply({ machineId: id, machineSecret: secret, customerId: this.customerId, dataKey: this.master.toString("base64"), repository: { container: this.container, blobEndpoint: this.opts.blobEndpoint, config: this.repoConfig }, policy: this.policy });
      }
      case "heartbeat":
        this.heartbeats.push(body);
        return reply({ serverTime: new Date().toISOString(), policyEtag: this.policyEtag });
      case "policy":
        if (req.headers["if-none-match"] === this.policyEtag) {
          res.writeHead(304, { etag: this.policyEtag });
          return res.end();
        }
        return reply({ etag: this.policyEtag, policy: this.policy }, { etag: this.policyEtag });
      case "uploadSession": {
        const sas = await this.azure.createContainerUploadSas({ expiresInMinutes: 30 });
        return reply({ sasUrl: sas.url, container: sas.container, expiresAt: sas.expiresOn.toISOString() });
      }
      case "chunksMissing": {
        const b = body as MissingRequest;
        const missing = missingRequestIds(b).filter((id) => !this.index.has(id));
        return reply(b.ids ? { missing } : { missingHex: missing.join("") });
      }
      case "packs": {
        const b = body as z.infer<typeof routes.packs.request>;
        // Indexed only once durable: the server looks for itself.
        const head = await this.azure.head(`data/${b.packId.slice(0, 2)}/${b.packId}`);
        if (!head || head.size !== b.size) return fail(422, "pack_not_durable", `pack ${b.packId} is not in the container with size ${b.size}`);
        const entries = packReportEntries(b);
        if (!this.packs.some((p) => p.packId === b.packId)) this.packs.push({ packId: b.packId, size: b.size, ids: entries.map((e) => e.id) });
        for (const e of entries) if (!this.index.has(e.id)) this.index.set(e.id, b.packId);
        return reply({ indexed: entries.length });
      }
      case "points": {
        const b = body as z.infer<typeof routes.points.request>;
        const prior = this.points.get(b.clientPointId);
        if (prior) return reply({ pointId: prior.pointId });
        const missing = [...new Set([b.manifest.rootTree, ...commitChunkIds(b)])].filter((id) => !this.index.has(id));
        if (missing.length) return fail(409, "missing_chunks", `${missing.length} chunk(s) not indexed`, { missing: missing.slice(0, 1000) });
        if (!(await this.azure.head(`snapshots/${b.manifest.snapshotId}`))) return fail(422, "manifest_missing", "sealed manifest not in the container");
        const pointId = randomUUID();
        this.points.set(b.clientPointId, { pointId, manifest: b.manifest, at: Date.now() });
        return reply({ pointId });
      }
      case "nextRestoreJob": {
        const e = this.restoreJobs.find((j) => j.state === "running") ?? this.restoreJobs.find((j) => j.state === "queued");
        if (!e) return reply({ job: null });
        e.state = "running";
        // Restores read (and list the index) through their own SAS: the upload SAS is for writing.
        const expiresOn = new Date(Date.now() + 30 * 60_000);
        const readSasUrl = await BlobServiceClient.fromConnectionString(this.opts.azureConnectionString).getContainerClient(this.container).generateSasUrl({ permissions: ContainerSASPermissions.parse("rl"), expiresOn });
        return reply({ job: { ...e.job, readSasUrl, expiresAt: expiresOn.toISOString() } });
      }
      case "restoreProgress":
      case "restoreResult": {
        const id = path.split("/")[2];
        const e = this.restoreJobs.find((j) => j.job.id === id);
        if (!e) return fail(404, "no_job", "unknown restore job");
        if (e.state !== "running") {
          this.lateReports++;
          return fail(409, "job_finished", "job is not running");
        }
        if (name === "restoreProgress") e.progress.push(body);
        else {
          e.result = body as never;
          e.state = "done";
        }
        return reply({ ok: true });
      }
      case "events":
        this.events.push(...(body as { events: FakeServer["events"] }).events);
        return reply({ ok: true });
    }
    void machineId;
    return fail(500, "unhandled", name);
  }
}

const sha = (s: string) => createHash("sha256").update(s).digest("hex");
