/**
 * The product's main job end to end, with the REAL agent process: a policy
 * watching a temp folder (RPO 5 s), an enrollment token created in the UI,
 * `tidemark-agent enroll` + `run`, the point on the machine's timeline,
 * browser downloads byte-compared (current and earlier version), a
 * restore-to-machine into another folder executed by the agent; then
 * self-service for the customer's own user, and refusals for another MSP and
 * for a customer user of another customer of the same MSP (every file,
 * download and agent route).
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "@playwright/test";
import { downloadBytes, exitOf, runAgent as spawnAgent, type Spawned, stopProcess } from "./agent-process";
import { AUTHED_ROUTES, callAgent } from "./agent-api";
import { assignPolicy, createCustomer, createFolderPolicy, enrollmentToken, inviteAndJoin, signIn, signUpMsp, trpcCall, unique } from "./helpers";

test.use({ extraHTTPHeaders: { "x-forwarded-for": "10.0.0.9" } });

let work: string;
let agent: Spawned | null = null;
let agentLog = "";

function runAgent(args: string[]): Spawned {
  const child = spawnAgent(args);
  child.stdout!.on("data", (d) => (agentLog += d));
  child.stderr!.on("data", (d) => (agentLog += d));
  return child;
}

test.beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "tm-e2e-agent-"));
});

test.afterAll(async () => {
  await stopProcess(agent);
  await rm(work, { recursive: true, force: true });
});

test("enroll the real agent, see its points, download (current and earlier), restore to another folder and to the original location; self-service and another tenant", async ({ page, baseURL, browser }) => {
  test.setTimeout(240_000);
  const watched = join(work, "watched");
  const restored = join(work, "restored");
  const stateDir = join(work, "state");
  await import("node:fs/promises").then((fs) => Promise.all([fs.mkdir(watched), fs.mkdir(restored)]));
  const v1 = Buffer.from("quarterly report, version one\n");
  const big = randomBytes(2 * 1024 * 1024 + 123);
  await writeFile(join(watched, "report.txt"), v1);
  await writeFile(join(watched, "photo.bin"), big);

  const techEmail = unique("tech");
  const mspId = await signUpMsp(page, { email: techEmail, mspName: "Lakeside IT" });
  const customerId = await createCustomer(page, "Contoso");
  // Another customer of the same MSP: its users must see nothing of Contoso's.
  const neighbourId = await createCustomer(page, "Fabrikam");

  // The customer's default policy: watch the temp folder, a point at most every 5 s.
  await assignPolicy(await createFolderPolicy(page, mspId, "Watched folder", watched), "Contoso");

  const { token, command } = await enrollmentToken(page, customerId);
  expect(command).toContain(`--server ${baseURL}`);

  const enroll = runAgent(["enroll", "--server", baseURL!, `--token=${token}`, "--name", "e2e-srv", "--state-dir", stateDir]);
  expect(await exitOf(enroll), agentLog).toBe(0);
  agent = runAgent(["run", "--state-dir", stateDir, "--heartbeat-ms", "1000"]);

  // The machine shows up online, and its first point lands on the timeline.
  await page.reload();
  const row = page.getByTestId("machine-e2e-srv");
  await expect(row).toBeVisible();
  await expect(row).toContainText("online", { timeout: 30_000 });
  await row.getByRole("link", { name: "e2e-srv" }).click();
  await expect(page.getByTestId("machine-name")).toHaveText("e2e-srv");
  await expect(page.getByTestId("timeline-point").first()).toBeVisible({ timeout: 60_000 });
  // Zoom and pan: a year window holds the point; half a year earlier holds none; "Now" returns to live.
  await page.getByRole("button", { name: "Year" }).click();
  await expect(page.getByTestId("timeline-point").first()).toBeVisible();
  await page.getByRole("button", { name: "Earlier" }).click();
  await expect(page.getByTestId("timeline-point")).toHaveCount(0);
  await page.getByRole("button", { name: "Now", exact: true }).click();
  await page.getByRole("button", { name: "Minute" }).click();
  await expect(page.getByTestId("timeline-point").first()).toBeVisible();
  await page.getByRole("button", { name: "Day" }).click();
  await page.getByTestId("point-select").selectOption({ index: 1 });
  await expect(page.getByTestId("point-details")).toContainText("crash-consistent");

  // Search by name within the point, download, compare.
  await page.getByLabel("Search by name").fill("photo");
  await page.getByRole("button", { name: "Search" }).click();
  const photo = page.getByTestId("search-results").getByTestId("tree-entry").filter({ hasText: "photo.bin" });
  expect((await downloadBytes(page, () => photo.getByTestId("download").click())).equals(big)).toBe(true);

  // Change a file: a new point arrives within the RPO plus a few seconds.
  const before = await page.getByTestId("timeline-point").count();
  const v2 = Buffer.from("quarterly report, version TWO with more words\n");
  await writeFile(join(watched, "report.txt"), v2);
  await expect.poll(() => page.getByTestId("timeline-point").count(), { timeout: 30_000 }).toBeGreaterThan(before);

  // Newest point: version two; its versions list offers version one, byte for byte.
  await page.getByTestId("point-select").selectOption({ index: 1 });
  await expect(page.getByTestId("point-changes")).toContainText("0 added, 1 modified, 0 deleted");
  await page.getByLabel("Search by name").fill("report");
  await page.getByRole("button", { name: "Search" }).click();
  const report = page.getByTestId("search-results").getByTestId("tree-entry").filter({ hasText: "report.txt" });
  expect((await downloadBytes(page, () => report.getByTestId("download").click())).equals(v2)).toBe(true);
  await report.getByRole("button", { name: "versions" }).click();
  const versions = page.getByTestId("versions").getByTestId("version-row");
  // Every point holding the file is listed; the content changed twice (created, then edited). The oldest row is version one.
  await expect(versions.filter({ hasText: "changed" })).toHaveCount(2);
  expect((await downloadBytes(page, () => versions.last().getByRole("link", { name: "download" }).click())).equals(v1)).toBe(true);

  // Restore the current report.txt onto the machine, into another folder; progress is live until the agent reports success.
  await report.getByRole("checkbox").check();
  await page.getByRole("button", { name: "Restore to machine…" }).click();
  const dialog = page.getByTestId("restore-dialog");
  await dialog.getByLabel("Folder on the machine").fill(restored);
  await dialog.getByRole("button", { name: "Start restore" }).click();
  await expect(dialog.getByTestId("restore-state")).toHaveText("succeeded", { timeout: 60_000 });
  expect((await readFile(join(restored, "report.txt"))).equals(v2)).toBe(true);
  await dialog.getByRole("button", { name: "Close" }).click();
  await expect(page.getByTestId("restore-jobs")).toContainText("succeeded");
  // The agent reported the restore; its events show on the machine page.
  await page.reload();
  await expect(page.getByTestId("agent-events")).toContainText("restore", { timeout: 20_000 });

  // A local edit overwritten by version one, restored to its original location from the oldest point.
  await writeFile(join(watched, "report.txt"), "a local edit nobody wanted\n");
  const options = page.getByTestId("point-select").locator("option");
  await page.getByTestId("point-select").selectOption({ index: (await options.count()) - 1 });
  await page.getByLabel("Search by name").fill("report");
  await page.getByRole("button", { name: "Search" }).click();
  const oldReport = page.getByTestId("search-results").getByTestId("tree-entry").filter({ hasText: "report.txt" });
  await oldReport.getByRole("checkbox").check();
  await page.getByRole("button", { name: "Restore to machine…" }).click();
  await dialog.getByLabel("Original location").check();
  await dialog.getByLabel("If a file already exists").selectOption("overwrite");
  await dialog.getByRole("button", { name: "Start restore" }).click();
  await expect(dialog.getByTestId("restore-state")).toHaveText("succeeded", { timeout: 60_000 });
  expect((await readFile(join(watched, "report.txt"))).equals(v1)).toBe(true);
  await dialog.getByRole("button", { name: "Close" }).click();
  const machineUrl = page.url();
  const pointId = new URL((await oldReport.getByTestId("download").getAttribute("href"))!, "http://x").searchParams.get("pointId");

  // Dashboard numbers on the customer page.
  await page.goto(`/customers/${customerId}`);
  await expect(page.getByTestId("stat-points")).not.toHaveText("0");
  await expect(page.getByTestId("machine-e2e-srv").getByTestId("rpo-state")).toHaveText(/OK|late/);

  // Self-service: a customer user of Contoso browses and downloads, but cannot restore onto the server.
  await inviteAndJoin(page, `/customers/${customerId}/users`, unique("clerk"), "customer_user", "Casey Clerk");
  await expect(page).toHaveURL(new RegExp(`/customers/${customerId}$`));
  await page.getByTestId("machine-e2e-srv").getByRole("link", { name: "e2e-srv" }).click();
  await page.getByTestId("point-select").selectOption({ index: 1 });
  await page.getByLabel("Search by name").fill("photo");
  await page.getByRole("button", { name: "Search" }).click();
  const mine = page.getByTestId("search-results").getByTestId("tree-entry").filter({ hasText: "photo.bin" });
  expect((await downloadBytes(page, () => mine.getByTestId("download").click())).equals(big)).toBe(true);
  await expect(page.getByRole("button", { name: "Restore to machine…" })).toHaveCount(0);
  await expect(page.getByTestId("file-browser")).toContainText("Restoring to a machine needs a customer admin");
  // No revoke button for a customer user.
  await page.goto(`/customers/${customerId}`);
  await expect(page.getByTestId("machine-e2e-srv").getByRole("button", { name: "Revoke" })).toHaveCount(0);

  // Another MSP's owner: the machine page and the download URL are "not found".
  const other = await browser.newContext({ baseURL, extraHTTPHeaders: { "x-forwarded-for": "10.0.0.19" } });
  const intruder = await other.newPage();
  await signUpMsp(intruder, { email: unique("intruder"), mspName: "Elsewhere IT" });
  await intruder.goto(machineUrl);
  await expect(intruder.getByTestId("access-refused")).toBeVisible();
  expect(pointId).toBeTruthy();
  const stolen = await intruder.request.get(`/api/files/download?${new URLSearchParams({ pointId: pointId!, path: "" })}`);
  expect(stolen.status()).toBe(404);
  expect(await stolen.text()).not.toContain("photo");
  await other.close();

  // A customer user of ANOTHER customer of the same MSP (Fabrikam): every agent, file and download route refuses.
  const neighbourCtx = await browser.newContext({ baseURL, extraHTTPHeaders: { "x-forwarded-for": "10.0.0.29" } });
  const np = await neighbourCtx.newPage();
  await signIn(np, techEmail);
  await expect(np).toHaveURL(/\/msp\//);
  await inviteAndJoin(np, `/customers/${neighbourId}/users`, unique("neighbour"), "customer_user", "Nina Neighbour");
  await expect(np).toHaveURL(new RegExp(`/customers/${neighbourId}$`));
  await np.goto(machineUrl);
  await expect(np.getByTestId("access-refused")).toBeVisible();
  await np.goto(`/customers/${customerId}`);
  await expect(np.getByTestId("access-refused")).toBeVisible();
  const machineId = machineUrl.split("/").at(-1)!;
  const photoPath = `${watched.slice(1)}/photo.bin`;
  for (const path of ["", watched.slice(1), photoPath]) {
    const r = await np.request.get(`/api/files/download?${new URLSearchParams({ pointId: pointId!, path })}`);
    expect(r.status(), `download ${JSON.stringify(path)}`).toBe(404);
    expect((await r.body()).includes(big.subarray(0, 64))).toBe(false);
  }
  const procedures: Array<[string, unknown, "query" | "mutation"]> = [
    ["customers.get", { customerId }, "query"],
    ["customers.storage", { customerId }, "query"],
    ["machines.list", { customerId }, "query"],
    ["machines.protection", { customerId }, "query"],
    ["machines.get", { machineId }, "query"],
    ["machines.events", { machineId }, "query"],
    ["points.list", { machineId }, "query"],
    ["points.get", { pointId }, "query"],
    ["points.changes", { pointId }, "query"],
    ["files.list", { pointId, path: "" }, "query"],
    ["files.search", { pointId, query: "photo" }, "query"],
    ["files.versions", { pointId, path: photoPath }, "query"],
    ["restores.list", { machineId }, "query"],
    ["restores.list", { customerId }, "query"],
    ["restores.create", { machineId, pointId, paths: [`/${photoPath}`], destination: "original", conflict: "overwrite" }, "mutation"],
    ["machines.revoke", { machineId }, "mutation"],
  ];
  for (const [proc, input, kind] of procedures) {
    const r = await trpcCall(np.request, proc, input, kind);
    expect([403, 404], `${proc} as another customer's user: ${r.status} ${r.text.slice(0, 300)}`).toContain(r.status);
    expect(r.text).not.toContain("photo.bin");
    expect(r.text).not.toContain("e2e-srv");
  }
  // A signed-in person is not a machine: the agent API answers 401 to the session alone.
  for (const route of AUTHED_ROUTES) {
    const r = await callAgent(np.request, route);
    expect(r.status, `${route.method} ${route.path} with a customer user's session`).toBe(401);
  }
  // The machine still runs (the refused revoke did nothing).
  await page.goto(`/customers/${customerId}`);
  await expect(page.getByTestId("machine-e2e-srv")).toContainText("online");
  await neighbourCtx.close();
});

test("two machines of one customer with the same data store it once; revoking a machine stops its agent", async ({ page, baseURL }) => {
  test.setTimeout(240_000);
  const dirA = join(work, "two-a");
  const dirB = join(work, "two-b");
  const fs = await import("node:fs/promises");
  await Promise.all([fs.mkdir(dirA), fs.mkdir(dirB)]);
  const shared = randomBytes(4 * 1024 * 1024);
  await writeFile(join(dirA, "shared.bin"), shared);
  await writeFile(join(dirB, "same-bytes-other-name.bin"), shared);

  const mspId = await signUpMsp(page, { email: unique("dedup"), mspName: "Dedup IT" });
  const customerId = await createCustomer(page, "Northwind");
  await assignPolicy(await createFolderPolicy(page, mspId, "Folder A", dirA), "Northwind");

  const enroll = async (name: string, stateDir: string) => {
    const { token } = await enrollmentToken(page, customerId);
    const child = runAgent(["enroll", "--server", baseURL!, `--token=${token}`, "--name", name, "--state-dir", stateDir]);
    expect(await exitOf(child), agentLog).toBe(0);
  };
  await enroll("srv-a", join(work, "state-a"));
  await enroll("srv-b", join(work, "state-b"));
  // srv-b gets its own policy (folder B) before its agent first asks.
  await assignPolicy(await createFolderPolicy(page, mspId, "Folder B", dirB), "Northwind", "srv-b");

  const a = runAgent(["run", "--state-dir", join(work, "state-a"), "--heartbeat-ms", "1000"]);
  let b: ReturnType<typeof runAgent> | undefined;
  try {
    await page.goto(`/customers/${customerId}`);
    // Each machine has its first point (the badge leaves "none"). srv-b starts once srv-a's point is committed: two
    // first backups of the same bytes at the same instant can both find the chunks missing and both upload — what
    // this proves is that data a machine of the customer already stored is not stored again.
    const firstPoint = (m: string) => expect(page.getByTestId(`machine-${m}`).getByTestId("rpo-state")).toHaveText(/^(OK|late|missed)$/, { timeout: 60_000 });
    await firstPoint("srv-a");
    b = runAgent(["run", "--state-dir", join(work, "state-b"), "--heartbeat-ms", "1000"]);
    await firstPoint("srv-b");
    // Protected: two copies (8 MiB); stored: one copy plus trees and pack overhead.
    await expect(page.getByTestId("stat-protected")).toHaveText("8.0 MiB", { timeout: 20_000 });
    const stored = (await page.getByTestId("stat-stored").textContent())!;
    expect(stored).toMatch(/^4\.\d MiB$/);
    // Without dedup it would be 1.0×; pack and tree overhead keep it at or just under 2.
    await expect(page.getByTestId("stat-dedup")).toHaveText(/^(1\.9\d|2\.00)×$/);

    // Revoking srv-b in the portal: its agent is refused on its next call and exits with code 3 (no restart).
    page.once("dialog", (d) => void d.accept());
    await page.getByTestId("machine-srv-b").getByRole("button", { name: "Revoke" }).click();
    await expect(page.getByTestId("machine-srv-b")).toContainText("revoked");
    const code = await Promise.race([exitOf(b), new Promise<number>((r) => setTimeout(() => r(-1), 30_000))]);
    expect(code, agentLog.slice(-2000)).toBe(3);
    expect(a.exitCode).toBeNull();
  } finally {
    for (const child of [a, b]) if (child?.pid && child.exitCode === null) process.kill(-child.pid, "SIGKILL");
  }
});
