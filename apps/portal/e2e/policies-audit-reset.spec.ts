import { expect, test } from "@playwright/test";
import { PASSWORD, createCustomer, signIn, signOut, signUpMsp, unique } from "./helpers";

// Each spec is its own client: better-auth rate-limits sign-up/sign-in per client address.
test.use({ extraHTTPHeaders: { "x-forwarded-for": "10.0.0.4" } });

test("policies are created, edited and assigned; the audit log shows it, filtered", async ({ page }) => {
  const email = unique("admin");
  const mspId = await signUpMsp(page, { email, mspName: "Tailspin IT" });
  await createCustomer(page, "Fabrikam");
  await createCustomer(page, "Woodgrove");

  await page.goto(`/msp/${mspId}/policies`);
  await page.getByRole("button", { name: "New policy" }).click();
  await page.getByLabel("Name").fill("Servers");
  await page.getByLabel("Recovery point objective (seconds)").fill("30");
  await page.getByLabel("Exclude paths (one per line)").fill("C:\\pagefile.sys\n/tmp");
  await page.getByLabel("Offline spool limit (GiB)").fill("0.01");
  await page.getByRole("button", { name: "Create policy" }).click();
  // The server's per-field message lands beside the field it concerns.
  await expect(page.locator("#spoolLimitGiB-error")).toContainText("at least 64 MiB");
  await expect(page.getByTestId("policy")).toHaveCount(0);

  await page.getByLabel("Offline spool limit (GiB)").fill("20");
  await page.getByRole("button", { name: "Create policy" }).click();
  const card = page.getByTestId("policy").filter({ hasText: "Servers" });
  await expect(card).toContainText("RPO 30s");
  await expect(card).toContainText("C:\\pagefile.sys, /tmp");

  await card.getByRole("button", { name: "Edit" }).click();
  await page.getByLabel("Recovery point objective (seconds)").fill("4");
  await page.getByRole("button", { name: "Save policy" }).click();
  await expect(page.locator("#rpoSeconds-error")).toContainText("5 seconds");
  await page.getByLabel("Recovery point objective (seconds)").fill("120");
  await page.getByRole("button", { name: "Save policy" }).click();
  await expect(card).toContainText("RPO 120s");

  await card.getByLabel("Customer").selectOption({ label: "Fabrikam" });
  await card.getByRole("button", { name: "Assign" }).click();
  await expect(card.getByText("Assigned")).toBeVisible();

  await page.goto(`/msp/${mspId}/audit`);
  const events = page.getByTestId("audit-events");
  for (const action of ["msp.create", "customer.create", "policy.create", "policy.update", "policy.assign"]) {
    await expect(events.getByText(action, { exact: true }).first()).toBeVisible();
  }
  await expect(events).toContainText(email);

  await page.getByLabel("Action").fill("customer.create");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(events.getByRole("row")).toHaveCount(3);
  await page.getByLabel("Customer", { exact: true }).selectOption({ label: "Woodgrove" });
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(events.getByRole("row")).toHaveCount(2);
  await expect(events).toContainText("Woodgrove");
  await expect(events).not.toContainText("Fabrikam");
});

test("a forgotten password is reset through the emailed link", async ({ page }) => {
  const email = unique("forgetful");
  await signUpMsp(page, { email, mspName: "Alpine Ski IT" });
  await signOut(page);

  await page.getByRole("link", { name: "Forgot password?" }).click();
  await page.getByLabel("Email").fill(email);
  await page.getByRole("button", { name: "Send reset link" }).click();
  await expect(page.getByText(/we sent a link/)).toBeVisible();

  await page.goto("/dev/outbox");
  const mail = page.getByTestId("outbox-message").filter({ hasText: email }).filter({ hasText: "Reset" }).first();
  await mail.getByRole("link", { name: /reset-password/ }).click();
  await expect(page).toHaveURL(/\/reset-password\?token=/);
  await page.getByLabel("New password", { exact: true }).fill("a brand new passphrase");
  await page.getByLabel("Repeat the new password").fill("a different passphrase");
  await page.getByRole("button", { name: "Set password" }).click();
  await expect(page.getByText("The passwords do not match")).toBeVisible();
  await page.getByLabel("Repeat the new password").fill("a brand new passphrase");
  await page.getByRole("button", { name: "Set password" }).click();
  await expect(page.getByText("Your password was changed")).toBeVisible();

  await signIn(page, email, PASSWORD);
  await expect(page.getByRole("alert").filter({ hasText: "Invalid email or password" })).toBeVisible();
  await expect(page).toHaveURL(/\/sign-in/);
  await signIn(page, email, "a brand new passphrase");
  await expect(page).toHaveURL(/\/msp\/[0-9a-f-]{36}$/);
});
