/**
 * The real server side of the agent API for the e2e suite: `serveAgentApi`
 * over a fresh PostgreSQL database and in-process Azurite (on disk, so an
 * outage test can stop and restart it on the same port), with a small HTTP
 * proxy in front that injects network faults (503s, dropped connections,
 * slow pack reports, a SAS Azure refuses) and records what crossed the wire.
 * Assertions read the server's own rows (recovery_points, packs,
 * chunk_index, restore_jobs, agent_events).
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { and, asc, eq, isNull } from "drizzle-orm";
import type { PointManifest } from "@tidemark/agent-protocol";
import { schema } from "@tidemark/db";
import { serveAgentApi } from "@tidemark/backup/http/node";
import { createWorld, type World } from "@tidemark/backup/testing";

export type WireCall = { method: string; path: string; status: number; body: unknown };

export type FaultMode = "pass" | "503" | "drop";

/** A network fault injector between the agent and the real server; it never answers for the server. */
export class FaultProxy {
  mode: FaultMode = "pass";
  /** Delay before POST packs is forwarded (widens the window for kill tests). */
  packDelayMs = 0;
  /** Corrupt the signature of the next upload-session reply(ies): Azure then refuses the SAS with 403, like an expired one. */
  corruptSas = 0;
  readonly calls: WireCall[] = [];
  url = "";
  private server = createServer((req, res) => void this.forward(req, res).catch(() => res.destroy()));

  constructor(private readonly target: string) {}

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Successful calls to one route (path suffix under /api/agent/v1), request bodies parsed. */
  ok(method: string, pathSuffix: RegExp): WireCall[] {
    return this.calls.filter((c) => c.method === method && pathSuffix.test(c.path) && c.status < 300);
  }

  private async forward(req: IncomingMessage, res: import("node:http").ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (this.mode === "drop") return req.socket.destroy();
    if (this.mode === "503") {
      res.writeHead(503, { "content-type": "application/json", "retry-after": "1" });
      return res.end(JSON.stringify({ error: { code: "unavailable", message: "injected by the test proxy" } }));
    }
    if (req.method === "POST" && path.endsWith("/packs") && this.packDelayMs) await new Promise((r) => setTimeout(r, this.packDelayMs));
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string" && k !== "host" && k !== "content-length" && k !== "connection") headers.set(k, v);
    const body = chunks.length ? Buffer.concat(chunks) : undefined;
    const upstream = await fetch(this.target + (req.url ?? "/"), { method: req.method, headers, body: req.method === "GET" || req.method === "HEAD" ? undefined : body });
    let text = await upstream.text();
    if (path.endsWith("/upload-session") && upstream.status === 200 && this.corruptSas > 0) {
      this.corruptSas--;
      const j = JSON.parse(text) as { sasUrl: string };
      j.sasUrl = j.sasUrl.replace(/sig=[^&]+/, "sig=" + encodeURIComponent(randomBytes(32).toString("base64")));
      text = JSON.stringify(j);
    }
    let parsed: unknown = undefined;
    try {
      parsed = body ? JSON.parse(body.toString("utf8")) : undefined;
    } catch {
      parsed = undefined;
    }
    this.calls.push({ method: req.method ?? "", path, status: upstream.status, body: parsed });
    const out: Record<string, string> = {};
    upstream.headers.forEach((v, k) => {
      if (k !== "content-length" && k !== "content-encoding" && k !== "transfer-encoding" && k !== "connection") out[k] = v;
    });
    res.writeHead(upstream.status, out);
    res.end(upstream.status === 304 ? undefined : text);
  }
}

export type RealServer = {
  w: World;
  proxy: FaultProxy;
  /** What agents enrol against: the proxy. */
  url: string;
  stop(): Promise<void>;
};

export async function startRealServer(azuriteLocation: string): Promise<RealServer> {
  const w = await createWorld({ azuriteLocation });
  const api = await serveAgentApi(w.svc);
  const proxy = await new FaultProxy(api.url).start();
  return {
    w,
    proxy,
    url: proxy.url,
    async stop() {
      await proxy.stop();
      await api.close();
      await w.stop();
    },
  };
}

export async function newCustomer(w: World, name: string): Promise<string> {
  const [c] = await w.database.db.insert(schema.customers).values({ mspId: w.mspId, name }).returning();
  return c!.id;
}

export type TestPolicy = {
  rpoSeconds?: number;
  includePaths?: string[];
  volumes?: string[];
  spoolLimitBytes?: number;
  preFreezeCommand?: string | null;
  postThawCommand?: string | null;
  hookTimeoutSeconds?: number;
};

/** The customer's default policy (machineId undefined) or a machine's own, created or changed in place. */
export async function setPolicy(w: World, target: { customerId: string; machineId?: string }, p: TestPolicy): Promise<void> {
  const db = w.database.db;
  const a = schema.policyAssignments;
  const [assigned] = await db
    .select()
    .from(a)
    .where(and(eq(a.customerId, target.customerId), target.machineId ? eq(a.machineId, target.machineId) : isNull(a.machineId)));
  const values = { rpoSeconds: 5, ...p };
  if (assigned) {
    await db.update(schema.policies).set(values).where(eq(schema.policies.id, assigned.policyId));
    return;
  }
  const [pol] = await db
    .insert(schema.policies)
    .values({ mspId: w.mspId, name: `test ${target.machineId ?? target.customerId}`, retention: { keepWithinHours: 24, hourly: 24, daily: 7, weekly: 4, monthly: 12, yearly: 1 }, ...values })
    .returning();
  await db.insert(a).values({ mspId: w.mspId, customerId: target.customerId, machineId: target.machineId ?? null, policyId: pol!.id });
}

export type CommittedPoint = PointManifest & { pointId: string };

/** The machine's recovery points as the server recorded them, oldest first. */
export async function committed(w: World, machineId: string): Promise<CommittedPoint[]> {
  const rp = schema.recoveryPoints;
  const rows = await w.database.db.select().from(rp).where(eq(rp.machineId, machineId)).orderBy(asc(rp.createdAt));
  return rows.map((r) => ({ ...(r.manifest as PointManifest), pointId: r.id }));
}

export async function events(w: World, machineId: string) {
  const e = schema.agentEvents;
  const rows = await w.database.db.select().from(e).where(eq(e.machineId, machineId)).orderBy(asc(e.time));
  return rows.map((r) => ({ kind: r.kind, message: r.message, path: (r.details as { path?: string }).path }));
}

export async function restoreJobRow(w: World, id: string) {
  const j = schema.restoreJobs;
  const [row] = await w.database.db.select().from(j).where(eq(j.id, id));
  return row!;
}
