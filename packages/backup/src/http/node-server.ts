/**
 * The same agent API handlers served by plain node:http, for hosts that are
 * not the Next portal: agent end-to-end tests against the real server logic,
 * and a standalone agent endpoint if the portal ever needs to shed that load.
 * Paths and methods come from the protocol's route table.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { API_PREFIX, routes } from "@tidemark/agent-protocol";
import type { AgentServices } from "../services";
import { type AgentHandler, json } from "./common";
import { createEnrollRoute } from "./enroll";
import { type AgentRouteName, createMachineRoutes } from "./index";

type Matcher = { name: AgentRouteName; method: string; re: RegExp; keys: string[] };

const matchers: Matcher[] = (Object.keys(routes) as AgentRouteName[]).map((name) => {
  const keys: string[] = [];
  const pattern = routes[name].path.replace(/:([a-z]+)/g, (_, k: string) => {
    keys.push(k);
    return "([^/]+)";
  });
  return { name, method: routes[name].method, re: new RegExp(`^${API_PREFIX}${pattern}$`), keys };
});

/** Bodies above this are refused before parsing (a pack report of 1M entries is ~120 MB; keep well above). */
const MAX_BODY_BYTES = 256 * 1024 * 1024;

async function toRequest(req: IncomingMessage, origin: string): Promise<Request> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error("body too large");
    chunks.push(c as Buffer);
  }
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers.set(k, v);
  // This host sits behind no proxy, so the client is the socket's peer. A client-written
  // X-Forwarded-For (or X-Real-IP) would let a flood of forged credentials pick a fresh
  // per-address failure bucket for every request; it is replaced, never believed.
  headers.delete("x-real-ip");
  const remote = req.socket.remoteAddress;
  if (remote) headers.set("x-forwarded-for", remote.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, ""));
  else headers.delete("x-forwarded-for");
  const hasBody = req.method !== "GET" && req.method !== "HEAD" && chunks.length > 0;
  return new Request(new URL(req.url ?? "/", origin), { method: req.method, headers, body: hasBody ? Buffer.concat(chunks) : undefined });
}

export async function serveAgentApi(svc: AgentServices, opts: { port?: number; host?: string } = {}): Promise<{ url: string; close(): Promise<void> }> {
  const handlers: Record<AgentRouteName, AgentHandler> = { ...createMachineRoutes(svc), enroll: createEnrollRoute(svc) };
  const host = opts.host ?? "127.0.0.1";
  const server = createServer(async (req, res) => {
    let response: Response;
    try {
      const path = new URL(req.url ?? "/", "http://x").pathname;
      const hit = matchers.map((m) => ({ m, r: m.re.exec(path) })).find((x) => x.r);
      if (!hit) response = json({ error: { code: "not_found", message: `No agent API route at ${path}` } }, 404);
      else if (hit.m.method !== req.method) response = json({ error: { code: "method_not_allowed", message: `Use ${hit.m.method} for ${path}` } }, 405);
      else {
        const params = Object.fromEntries(hit.m.keys.map((k, i) => [k, decodeURIComponent(hit.r![i + 1]!)]));
        response = await handlers[hit.m.name](await toRequest(req, `http://${host}`), params);
      }
    } catch (e) {
      svc.log(`${req.method} ${req.url} failed`, e);
      response = json({ error: { code: "bad_request", message: "The request could not be read" } }, 400);
    }
    res.statusCode = response.status;
    response.headers.forEach((v, k) => res.setHeader(k, v));
    res.end(Buffer.from(await response.arrayBuffer()));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
