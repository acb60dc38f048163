/**
 * Azure goes away and comes back, through the real portal and the REAL agent:
 * the run's Azurite (serve.ts) is stopped for a while; the agent keeps
 * capturing into its spool (no point commits without durable packs, the
 * machine stays online), points commit once Azurite is back, every file
 * written before and during the outage downloads byte-identical (one by one
 * and as a folder ZIP), and the standalone CLI's `check --read-data` on the
 * customer's container is clean.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "@playwright/test";
import { exitOf, repoRoot, runAgent, runPnpm, type Spawned, stopProcess } from "./agent-process";
import { serveControl, startAzurite, stopAzurite } from "./control";
import { assignPolicy, createCustomer, createFolderPolicy, enrollmentToken, signUpMsp, trpcCall, unique } from "./helpers";

test.use({ extraHTTPHeaders: { "x-forwarded-for": "10.0.0.33" } });

let work: string;
let agent: Spawned | null = null;
let azuriteStopped = false;

test.beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "tm-e2e-outage-"));
});

test.afterAll(async ({ baseURL }) => {
  // Later specs share this portal and its Azurite.
  if (azuriteStopped) await startAzurite(baseURL!);
  await stopProcess(agent);
  await rm(work, { recursive: true, force: true });
});

type Point = { id: string; time: string; stats: { files?: number } | null };

test("Azurite down for a while: capture continues into the spool, points commit after it returns, nothing lost, check --read-data clean", async ({ page, baseURL }) => {
  test.setTimeout(300_000);
  const watched = join(work, "watched");
  const stateDir = join(work, "state");
  await mkdir(watched);
  const files = new Map<string, Buffer>();
  const put = async (name: string, data: Buffer) => {
    files.set(name, data);
    await writeFile(join(watched, name), data);
  };
  await put("before.txt", Buffer.from("written before the outage\n"));
  await put("big-before.bin", randomBytes(3 * 1024 * 1024 + 17));

  const mspId = await signUpMsp(page, { email: unique("outage"), mspName: "Storm IT" });
  const customerId = await createCustomer(page, "Blue Yonder");
  await assignPolicy(await createFolderPolicy(page, mspId, "Outage folder", watched), "Blue Yonder");
  const { token } = await enrollmentToken(page, customerId);
  const enroll = runAgent(["enroll", "--server", baseURL!, `--token=${token}`, "--name", "storm-01", "--state-dir", stateDir]);
  expect(await exitOf(enroll), enroll.log()).toBe(0);
  agent = runAgent(["run", "--state-dir", stateDir, "--heartbeat-ms", "1000"]);
  const machineId = JSON.parse(await readFile(join(stateDir, "machine.json"), "utf8")).machineId as string;

  const points = async (): Promise<Point[]> => {
    const r = await trpcCall(page.request, "points.list", { machineId }, "query");
    expect(r.status, r.text).toBe(200);
    return JSON.parse(r.text).result.data.json as Point[];
  };
  const queued = async () => (await readdir(join(stateDir, "queue")).catch(() => [])).length;
  await expect.poll(async () => (await points()).length, { timeout: 60_000, message: "first point" }).toBeGreaterThan(0);
  await expect.poll(queued, { timeout: 30_000, message: "upload queue empty before the outage" }).toBe(0);
  const before = (await points()).length;

  // ── the outage ──
  await stopAzurite(baseURL!);
  azuriteStopped = true;
  const outageStart = Date.now();
  for (let i = 0; i < 3; i++) {
    await put(`outage-${i}.bin`, randomBytes(200_000 + i));
    // RPO 5 s: spaced writes make several spooled points, not one.
    await new Promise((r) => setTimeout(r, 6_000));
  }
  await put("before.txt", Buffer.from("edited during the outage\n"));
  await new Promise((r) => setTimeout(r, 6_000));
  // Nothing committed without durable packs; the changes wait in the agent's spool; the agent runs and the portal still sees it.
  expect((await points()).length).toBe(before);
  expect(await queued()).toBeGreaterThan(0);
  expect(agent.exitCode, agent.log().slice(-2000)).toBeNull();
  await page.goto(`/customers/${customerId}`);
  await expect(page.getByTestId("machine-storm-01")).toContainText("online");
  const outageEnd = Date.now();
  await startAzurite(baseURL!);
  azuriteStopped = false;

  // ── back: the spool drains, the points commit ──
  await expect.poll(queued, { timeout: 90_000, message: `queue drained\n${agent.log().slice(-2000)}` }).toBe(0);
  await expect.poll(async () => (await points()).length, { timeout: 30_000 }).toBeGreaterThanOrEqual(before + 2);
  const all = await points();
  // Points captured during the outage keep their capture time (they were taken then, committed later).
  const during = all.filter((p) => +new Date(p.time) >= outageStart && +new Date(p.time) <= outageEnd);
  expect(during.length, JSON.stringify(all.map((p) => p.time))).toBeGreaterThanOrEqual(2);
  const latest = all[0]!;

  // Every file, byte for byte, from the newest point; the pre-outage version of before.txt from the first point.
  const treePath = (name: string) => `${watched.slice(1)}/${name}`;
  const download = async (pointId: string, path: string) => {
    const r = await page.request.get(`/api/files/download?${new URLSearchParams({ pointId, path })}`);
    expect(r.status(), `${path}: ${await r.text().catch(() => "")}`).toBe(200);
    return r.body();
  };
  for (const [name, data] of files) expect((await download(latest.id, treePath(name))).equals(data), name).toBe(true);
  const first = all.at(-1)!;
  expect((await download(first.id, treePath("before.txt"))).toString()).toBe("written before the outage\n");

  // The whole folder as a ZIP, tested and unpacked by Python's zipfile.
  const zipPath = join(work, "folder.zip");
  await writeFile(zipPath, await download(latest.id, watched.slice(1)));
  const unpacked = join(work, "unzipped");
  execFileSync("python3", ["-m", "zipfile", "-t", zipPath]);
  execFileSync("python3", ["-m", "zipfile", "-e", zipPath, unpacked]);
  for (const [name, data] of files) expect((await readFile(join(unpacked, "watched", name))).equals(data), `zip: ${name}`).toBe(true);

  // The standalone CLI on the customer's container (a password key added beside the service's KEK key).
  const control = serveControl(baseURL!);
  const azureEnv = { AZURE_STORAGE_CONNECTION_STRING: control.azureConnectionString, TIDEMARK_PASSWORD: "e2e check password", NODE_ENV: "test" as const };
  const container = execFileSync("node", ["--import", "tsx", "e2e/add-password-key.ts", customerId], {
    cwd: join(repoRoot, "apps/portal"),
    env: { ...process.env, ...azureEnv, E2E_KEK: control.kek },
  })
    .toString()
    .trim();
  const check = runPnpm(["tidemark", "check", "--read-data", "--json", "--repo", `azure://${container}`], azureEnv);
  const code = await exitOf(check);
  expect(code, check.log()).toBe(0);
  const report = JSON.parse(check.log().slice(check.log().indexOf("{"))) as { ok: boolean; errors: string[]; snapshots: number; packs: number; packsRead: number; damagedPacks: unknown[]; damagedChunks: unknown[] };
  expect(report).toMatchObject({ ok: true, errors: [], damagedPacks: [], damagedChunks: [] });
  expect(report.snapshots).toBe(all.length);
  expect(report.packsRead).toBe(report.packs);
});
