/**
 * The agent API as the e2e specs call it without the agent: every
 * authenticated route of /api/agent/v1 (checked against the portal's route
 * files, so a new route cannot be left out), enrolment from a UI token, and
 * the machine credential's wire form.
 */
import { randomUUID } from "node:crypto";
import { readdirSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, type APIRequestContext, type Page } from "@playwright/test";
import { enrollmentToken } from "./helpers";

export const AGENT_PREFIX = "/api/agent/v1";

/** Bodies are well-formed enough that a genuine credential gets past validation or fails only on it (never 401). */
export const AUTHED_ROUTES: Array<{ method: "GET" | "POST"; path: string; body?: unknown }> = [
  { method: "POST", path: "/heartbeat", body: { agentVersion: "e2e", os: { platform: "linux", release: "6", arch: "x64" }, hostname: "e2e", volumes: [], freeBytes: 1, pendingChanges: 0 } },
  { method: "GET", path: "/policy" },
  { method: "POST", path: "/upload-session" },
  { method: "POST", path: "/chunks/missing", body: { ids: ["0".repeat(64)] } },
  { method: "POST", path: "/packs", body: { packId: "0".repeat(64), size: 1, entries: [] } },
  { method: "POST", path: "/points", body: { clientPointId: randomUUID() } },
  { method: "GET", path: "/restore-jobs/next" },
  { method: "POST", path: `/restore-jobs/${randomUUID()}/progress`, body: { filesDone: 1, bytesDone: 1, filesTotal: 2, bytesTotal: 2 } },
  { method: "POST", path: `/restore-jobs/${randomUUID()}/result`, body: { ok: true, restoredFiles: 1, failed: [] } },
  { method: "POST", path: "/events", body: { events: [{ time: new Date().toISOString(), level: "info", kind: "started", message: "e2e access check" }] } },
];

/** Route files under app/api/agent/v1 as "/heartbeat", "/restore-jobs/[id]/progress", … (enrol excluded: it takes a token). */
export function portalAgentRoutes(): string[] {
  const root = join(dirname(fileURLToPath(import.meta.url)), "../src/app/api/agent/v1");
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name === "route.ts") out.push(`/${relative(root, dir)}`);
    }
  };
  walk(root);
  return out.filter((r) => r !== "/enroll").sort();
}

export const routeTemplate = (path: string) => path.replace(/\/restore-jobs\/[0-9a-f-]{36}\//, "/restore-jobs/[id]/");

export async function callAgent(request: APIRequestContext, route: (typeof AUTHED_ROUTES)[number], authorization?: string) {
  const headers: Record<string, string> = authorization ? { authorization } : {};
  const url = AGENT_PREFIX + route.path;
  const res = route.method === "GET" ? await request.get(url, { headers }) : await request.post(url, { headers, data: route.body ?? {} });
  return { status: res.status(), text: await res.text() };
}

export type Enrolled = { machineId: string; machineSecret: string; customerId: string; dataKey: string; credential: string };

/** A token from the customer page's button, redeemed over HTTP as the agent would. */
export async function enrollFromUi(page: Page, customerId: string, name: string): Promise<Enrolled> {
  const { token } = await enrollmentToken(page, customerId);
  const res = await page.request.post(`${AGENT_PREFIX}/enroll`, {
    data: { token, name, hostname: `${name}.local`, os: { platform: "linux", release: "6.1", arch: "x64" }, agentVersion: "e2e" },
  });
  expect(res.status(), await res.text()).toBe(201);
  const j = (await res.json()) as Omit<Enrolled, "credential">;
  return { ...j, credential: `tmm_${j.machineId}.${j.machineSecret}` };
}
