/**
 * Policy settings reach the agent, and the agent API refuses what is not a
 * live machine credential: edited in the UI (grouped form, hooks with the
 * service-account warning), read back by GET /api/agent/v1/policy with a
 * machine credential (ETag changes); the customer's storage quota; a forged
 * credential (several forms) and a revoked one get 401 from every agent route
 * through the portal, while the genuine one is let in.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { expect, test } from "@playwright/test";
import { AGENT_PREFIX, AUTHED_ROUTES, callAgent, enrollFromUi, portalAgentRoutes, routeTemplate } from "./agent-api";
import { assignPolicy, createCustomer, signUpMsp, unique } from "./helpers";

test.use({ extraHTTPHeaders: { "x-forwarded-for": "10.0.0.21" } });

test("policy settings are edited in groups and reach the agent's policy; the customer's quota is set and lifted", async ({ page }) => {
  // Six pages and an enrolment: 40 s on a loaded box once warm, more as the run's first test on a cold server.
  test.setTimeout(120_000);
  const mspId = await signUpMsp(page, { email: unique("settings"), mspName: "Harbor IT" });
  const customerId = await createCustomer(page, "Litware");

  await page.goto(`/msp/${mspId}/policies`);
  await page.getByRole("button", { name: "New policy" }).click();
  for (const group of ["policy-capture", "policy-consistency", "policy-verification", "policy-alerts"]) await expect(page.getByTestId(group)).toBeVisible();
  await expect(page.getByTestId("hook-warning")).toContainText("service account");
  await page.getByLabel("Name").fill("SQL servers");
  await page.getByLabel("Pre-freeze command").fill("sqlcmd -Q CHECKPOINT");
  await page.getByLabel("Hook timeout (seconds)").fill("0");
  await page.getByLabel("Machine offline after (minutes)").fill("1");
  await page.getByRole("button", { name: "Create policy" }).click();
  // The server's messages land beside their fields; nothing is created.
  await expect(page.locator("#hookTimeoutSeconds-error")).toHaveText("Hook timeout must be at least 1 second");
  await expect(page.locator("#offlineAlertMinutes-error")).toHaveText("Offline alert delay must be at least 2 minutes");
  await expect(page.getByTestId("policy")).toHaveCount(0);

  await page.getByLabel("Hook timeout (seconds)").fill("90");
  await page.getByLabel("Machine offline after (minutes)").fill("15");
  await page.getByLabel("Take a VSS snapshot").uncheck();
  await page.getByLabel("Volume image every (seconds)").fill("1800");
  await page.getByLabel("Scrub every pack within (days)").fill("3");
  await page.getByLabel("Repository check every (hours)").fill("12");
  await page.getByLabel("RPO missed after (× RPO)").fill("4");
  await page.getByRole("button", { name: "Create policy" }).click();
  const card = page.getByTestId("policy").filter({ hasText: "SQL servers" });
  await expect(card.getByTestId("policy-consistency-summary")).toContainText("VSS off · pre-freeze: sqlcmd -Q CHECKPOINT · post-thaw: none · hook timeout 90s");
  await expect(card).toContainText("Scrub every 3 days · repository check every 12h · offline alert after 15 min · RPO missed after 4× RPO");
  await assignPolicy(card, "Litware");

  // The machine's view of it, with its own credential.
  const m = await enrollFromUi(page, customerId, "sql-01");
  const auth = { authorization: `Bearer ${m.credential}` };
  const first = await page.request.get(`${AGENT_PREFIX}/policy`, { headers: auth });
  expect(first.status()).toBe(200);
  const p1 = (await first.json()) as { etag: string; policy: Record<string, unknown> };
  expect(p1.policy).toMatchObject({ preFreezeCommand: "sqlcmd -Q CHECKPOINT", hookTimeoutSeconds: 90, vss: false, volumeIntervalSeconds: 1800 });
  expect(p1.policy.postThawCommand).toBeUndefined();
  const etag = first.headers().etag!;
  expect(etag).toBeTruthy();
  expect((await page.request.get(`${AGENT_PREFIX}/policy`, { headers: { ...auth, "if-none-match": etag } })).status()).toBe(304);

  // Edit the hooks in the UI: the agent's next poll sees the change.
  await page.goto(`/msp/${mspId}/policies`);
  await card.getByRole("button", { name: "Edit" }).click();
  await expect(page.getByLabel("Pre-freeze command")).toHaveValue("sqlcmd -Q CHECKPOINT");
  await expect(page.getByLabel("Take a VSS snapshot")).not.toBeChecked();
  await page.getByLabel("Pre-freeze command").fill("");
  await page.getByLabel("Post-thaw command").fill("/usr/local/bin/thaw.sh --all");
  await page.getByRole("button", { name: "Save policy" }).click();
  await expect(card.getByTestId("policy-consistency-summary")).toContainText("pre-freeze: none · post-thaw: /usr/local/bin/thaw.sh --all");
  const second = await page.request.get(`${AGENT_PREFIX}/policy`, { headers: { ...auth, "if-none-match": etag } });
  expect(second.status()).toBe(200);
  expect(second.headers().etag).not.toBe(etag);
  const p2 = (await second.json()) as { policy: Record<string, unknown> };
  expect(p2.policy.postThawCommand).toBe("/usr/local/bin/thaw.sh --all");
  expect(p2.policy.preFreezeCommand).toBeUndefined();

  // The change is audited with what changed.
  await page.goto(`/msp/${mspId}/audit`);
  await expect(page.getByTestId("audit-events")).toContainText("policy.update");

  // Storage quota on the customer page: a bad value is explained, a good one shown, empty lifts it.
  await page.goto(`/customers/${customerId}`);
  const quota = page.getByTestId("quota-panel");
  await expect(quota.getByTestId("quota-state")).toHaveText("No quota");
  await quota.getByLabel("Quota (GiB)").fill("0.5");
  await quota.getByRole("button", { name: "Save quota" }).click();
  await expect(page.locator("#quotaGiB-error")).toHaveText("Storage quota must be at least 1 GiB (or empty for no quota)");
  await quota.getByLabel("Quota (GiB)").fill("250");
  await quota.getByRole("button", { name: "Save quota" }).click();
  await expect(quota.getByTestId("quota-state")).toContainText("of 250 GiB used");
  await page.reload();
  await expect(quota.getByLabel("Quota (GiB)")).toHaveValue("250");
  await quota.getByLabel("Quota (GiB)").fill("");
  await quota.getByRole("button", { name: "Save quota" }).click();
  await expect(quota.getByTestId("quota-state")).toHaveText("No quota");
});

test("forged and revoked machine credentials are refused by every agent route (401); the genuine one is let in", async ({ page }) => {
  // The list the test walks is the portal's own set of agent routes.
  expect([...new Set(AUTHED_ROUTES.map((r) => routeTemplate(r.path)))].sort()).toEqual(portalAgentRoutes());

  await signUpMsp(page, { email: unique("creds"), mspName: "Keel IT" });
  const customerId = await createCustomer(page, "Proseware");
  const m = await enrollFromUi(page, customerId, "cred-01");
  const other = await enrollFromUi(page, customerId, "cred-02");
  const secret = () => randomBytes(32).toString("base64url");

  const forged: Array<[string, string | undefined]> = [
    ["no credential", undefined],
    ["right machine, made-up secret", `Bearer tmm_${m.machineId}.${secret()}`],
    ["another machine's secret", `Bearer tmm_${m.machineId}.${other.machineSecret}`],
    ["unknown machine id", `Bearer tmm_${randomUUID()}.${m.machineSecret}`],
    ["not a machine credential", `Bearer ${m.machineSecret}`],
    ["wrong scheme", `Basic ${Buffer.from(`${m.machineId}:${m.machineSecret}`).toString("base64")}`],
    ["truncated secret", `Bearer tmm_${m.machineId}.${m.machineSecret.slice(0, -1)}`],
  ];
  for (const route of AUTHED_ROUTES) {
    const genuine = await callAgent(page.request, route, `Bearer ${m.credential}`);
    expect(genuine.status, `${route.method} ${route.path} with the genuine credential: ${genuine.text}`).not.toBe(401);
    for (const [what, authorization] of forged) {
      const r = await callAgent(page.request, route, authorization);
      expect(r.status, `${route.method} ${route.path}, ${what}: ${r.text}`).toBe(401);
      expect(r.text).not.toContain(m.dataKey);
    }
  }

  // Revoked in the portal: the same credential is now refused everywhere; the other machine is untouched.
  await page.goto(`/customers/${customerId}`);
  page.once("dialog", (d) => void d.accept());
  await page.getByTestId("machine-cred-01").getByRole("button", { name: "Revoke" }).click();
  await expect(page.getByTestId("machine-cred-01")).toContainText("revoked");
  for (const route of AUTHED_ROUTES) {
    const r = await callAgent(page.request, route, `Bearer ${m.credential}`);
    expect(r.status, `${route.method} ${route.path} after revoke: ${r.text}`).toBe(401);
  }
  expect((await callAgent(page.request, AUTHED_ROUTES.find((r) => r.path === "/policy")!, `Bearer ${other.credential}`)).status).toBe(200);
});
