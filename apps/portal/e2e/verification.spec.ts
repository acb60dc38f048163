/**
 * Verification status in the portal: a machine enrolled over the real agent
 * API, recovery points and a passed restore test seeded in this run's
 * database (one point marked damaged, as the scrub would), then the machine
 * page and the customer dashboard show it; "run restore test now" goes through
 * the real in-process worker, whose restore of a point whose tree is not in
 * storage fails — shown as ✗ with its finding, alerted in the alert centre.
 */
import { expect, test } from "@playwright/test";
import { schema } from "@tidemark/db";
import { enrollOverHttp, hexId, openRunDatabase } from "./alerts-seed";
import { createCustomer, signUpMsp, unique } from "./helpers";

test.use({ extraHTTPHeaders: { "x-forwarded-for": "10.0.0.21" } });

test("machine page and customer dashboard: last verified restore, damaged point with its files, run restore test now (fails, alerted), verify now", async ({ page, baseURL }) => {
  test.setTimeout(180_000);
  const ownerEmail = unique("owner");
  const mspId = await signUpMsp(page, { email: ownerEmail, mspName: "Keel IT" });
  const customerId = await createCustomer(page, "Contoso");
  await page.goto(`/customers/${customerId}`);
  await page.getByLabel("Token valid for (hours)").fill("1");
  await page.getByRole("button", { name: "Create enrollment token" }).click();
  const { machineId } = await enrollOverHttp(baseURL!, (await page.getByTestId("install-command").textContent())!, "FS01");

  const hour = 3600_000;
  const now = Date.now();
  const database = await openRunDatabase(mspId);
  let oldPointId: string;
  let damagedPointId: string;
  try {
    const scope = { mspId, customerId, machineId };
    // Trees named here are not in storage: a restore test of these points cannot read them.
    const manifest = { rootTree: hexId("no-such-tree"), sources: ["/srv/share"] };
    const [old] = await database.db
      .insert(schema.recoveryPoints)
      .values({ ...scope, clientPointId: "e2e-old", manifest, time: new Date(now - 4 * hour), consistency: "crash" })
      .returning();
    const [damaged] = await database.db
      .insert(schema.recoveryPoints)
      .values({
        ...scope,
        clientPointId: "e2e-damaged",
        manifest,
        time: new Date(now - hour),
        consistency: "crash",
        health: "damaged",
        damage: { chunkIds: [hexId("bad-chunk")], files: ["srv/share/q3.xlsx", "srv/share/plan.docx"], detectedAt: new Date(now - 30 * 60_000).toISOString() },
      })
      .returning();
    oldPointId = old!.id;
    damagedPointId = damaged!.id;
    await database.db.insert(schema.restoreTests).values({
      mspId,
      customerId,
      machineId,
      recoveryPointId: oldPointId,
      trigger: "schedule",
      state: "passed",
      startedAt: new Date(now - 3 * hour - 12_000),
      finishedAt: new Date(now - 3 * hour),
      durationMs: 12_000,
      files: 120,
      bytes: 5 * 1024 * 1024,
    });
  } finally {
    await database.close();
  }

  // --- machine page ---
  await page.goto(`/machines/${machineId}`);
  const panel = page.getByTestId("verification");
  await expect(panel.getByTestId("last-verified-restore")).toContainText("3 h ago");
  await expect(panel.getByTestId("last-verified-restore")).toContainText("✓");
  await expect(panel.getByTestId("damaged-count")).toHaveText("1 damaged point");
  await panel.getByText(/Restore test history/).click();
  await expect(panel.getByTestId("restore-test")).toHaveCount(1);
  await expect(panel.getByTestId("restore-test").first()).toContainText("✓ passed");
  await expect(panel.getByTestId("restore-test").first()).toContainText("120 / 5.0 MiB");

  // The damaged point is red on the timeline and listed; its details name the affected files.
  await expect(page.locator(`[data-testid="timeline-point"][data-damaged="true"]`)).toHaveCount(1);
  await page.getByTestId("damaged-points").getByRole("button").first().click();
  const details = page.getByTestId("point-details");
  await expect(details.getByTestId("point-health")).toContainText("damaged");
  await expect(details.getByTestId("point-damaged-files")).toContainText("srv/share/q3.xlsx");
  await expect(details.getByTestId("point-damaged-files")).toContainText("srv/share/plan.docx");
  await expect(details.getByTestId("point-restore-test")).toContainText("not restore-tested");

  // A point opened from a link (as alerts link to points) shows its restore test.
  await page.goto(`/machines/${machineId}?point=${oldPointId}`);
  await expect(details.getByTestId("point-health")).toContainText("ok");
  await expect(details.getByTestId("point-restore-test")).toContainText("✓ passed");

  // Run a restore test of the damaged point: the worker restores through storage, cannot read its tree.
  await page.goto(`/machines/${machineId}?point=${damagedPointId}`);
  await panel.getByRole("button", { name: "Run restore test of this point now" }).click();
  await expect(panel.getByTestId("latest-restore-test")).toContainText("✗ failed", { timeout: 60_000 });
  await expect(panel.getByTestId("last-verified-restore")).toContainText("3 h ago");
  await expect(panel.getByTestId("restore-test")).toHaveCount(2);
  await expect(panel.getByTestId("restore-test").first()).toContainText("manual");
  await expect(panel.getByTestId("restore-test-findings").first()).toContainText("directory tree could not be read");
  await expect(details.getByTestId("point-restore-test")).toContainText("✗ failed");

  // The failure is an alert in the centre, linked to the machine.
  await page.goto(`/alerts?machineId=${machineId}&customerId=${customerId}`);
  const alert = page.getByTestId("alert").filter({ hasText: "Restore test failed for FS01" });
  await expect(alert).toHaveCount(1);
  await expect(alert.getByTestId("alert-severity")).toHaveText("critical");
  // The nav badge counts what the centre lists as open (monitors may have raised others, e.g. this agent never reported).
  await page.goto("/alerts?state=open");
  await expect(page.getByTestId("alert").filter({ hasText: "Restore test failed for FS01" })).toHaveCount(1);
  const open = await page.getByTestId("alert").count();
  await expect(page.getByTestId("nav-alerts-open")).toHaveText(String(open));

  // --- customer dashboard ---
  await page.goto(`/customers/${customerId}`);
  const summary = page.getByTestId("verification-summary");
  await expect(summary.getByTestId("damaged-points-count")).toHaveText("1 damaged point");
  const row = summary.getByTestId("machine-verification").getByRole("row", { name: /FS01/ });
  await expect(row).toContainText("3 h ago");
  await expect(row).toContainText("✗ failed");
  await summary.getByRole("button", { name: "Verify now" }).click();
  await expect(summary.getByTestId("verify-requested")).toContainText("Verification requested");

  await page.goto(`/msp/${mspId}/audit`);
  const events = page.getByTestId("audit-events");
  await expect(events.getByText("verification.restore_test", { exact: true })).toBeVisible();
  await expect(events.getByText("verification.verify_now", { exact: true })).toBeVisible();
});
