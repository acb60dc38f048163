/**
 * Backend access for the alert/verification specs. serve.ts creates a fresh
 * database per run but does not tell the tests its name, so the spec finds it:
 * the one `tidemark_test_*` database holding the MSP the test just signed up
 * (ids are random uuids, so no other database can match).
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Database, openDatabase } from "@tidemark/db";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const serverUrl = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

type Sql = { unsafe(q: string, params?: unknown[]): Promise<Array<Record<string, unknown>>>; end(): Promise<void> };
// The portal does not depend on the driver itself; @tidemark/db does.
const postgres = createRequire(join(repoRoot, "packages/db/package.json"))("postgres") as (url: string, opts: object) => Sql;

/** The e2e run's database (the one holding `mspId`), opened for seeding. */
export async function openRunDatabase(mspId: string): Promise<Database> {
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  let names: string[];
  try {
    names = (await admin.unsafe("select datname from pg_database where datname like 'tidemark_test_%'")).map((r) => String(r.datname));
  } finally {
    await admin.end();
  }
  for (const name of names) {
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    const sql = postgres(url.toString(), { max: 1, onnotice: () => {}, connect_timeout: 5 });
    try {
      const rows = await sql.unsafe("select 1 from msps where id = $1", [mspId]);
      if (rows.length === 1) return openDatabase({ url: url.toString() });
    } catch {
      // Another run's database mid-migration or being dropped: not ours.
    } finally {
      await sql.end();
    }
  }
  throw new Error(`no tidemark_test_* database holds MSP ${mspId}`);
}

/** Enrolls a machine through the real agent API with a token from the install command. */
export async function enrollOverHttp(baseURL: string, installCommand: string, name: string): Promise<{ machineId: string; machineSecret: string }> {
  const token = /--token=(\S+)/.exec(installCommand)?.[1];
  if (!token) throw new Error(`no --token in ${installCommand}`);
  const res = await fetch(`${baseURL}/api/agent/v1/enroll`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token, name, hostname: `${name.toLowerCase()}.local`, os: { platform: "linux", release: "6.1", arch: "x64" }, agentVersion: "e2e" }),
  });
  if (!res.ok) throw new Error(`enroll: HTTP ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { machineId: string; machineSecret: string };
  return { machineId: body.machineId, machineSecret: body.machineSecret };
}

export type Received = { headers: IncomingHttpHeaders; rawBody: string; signatureOk: boolean };

/**
 * A webhook receiver that checks the signature the way a customer's would:
 * HMAC-SHA-256 over "<timestamp>.<raw body>" keyed with the secret's text
 * (docs/handoff-alerts.md), computed here independently of the sender's code.
 */
export async function startWebhookReceiver(): Promise<{ url: string; received: Received[]; setSecret(s: string): void; close(): Promise<void> }> {
  const received: Received[] = [];
  let secret = "";
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const rawBody = Buffer.concat(chunks).toString("utf8");
      const ts = String(req.headers["x-tidemark-timestamp"] ?? "");
      const given = Buffer.from(String(req.headers["x-tidemark-signature"] ?? ""));
      const expected = Buffer.from(`sha256=${createHmac("sha256", secret).update(`${ts}.${rawBody}`).digest("hex")}`);
      const fresh = /^\d+$/.test(ts) && Math.abs(Date.now() / 1000 - Number(ts)) < 300;
      const signatureOk = fresh && given.length === expected.length && timingSafeEqual(given, expected);
      received.push({ headers: req.headers, rawBody, signatureOk });
      res.writeHead(signatureOk ? 200 : 401, { "content-type": "text/plain" }).end(signatureOk ? "ok" : "bad signature");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/tidemark`,
    received,
    setSecret: (s) => (secret = s),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A stable fake hex id for seeded details (chunk ids are 32-byte hex). */
export const hexId = (seed: string) => createHash("sha256").update(seed).digest("hex");
