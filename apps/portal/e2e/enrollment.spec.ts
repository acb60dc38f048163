import { expect, test } from "@playwright/test";
import { createCustomer, signUpMsp, unique } from "./helpers";

// Each spec is its own client: better-auth rate-limits sign-up/sign-in per client address.
test.use({ extraHTTPHeaders: { "x-forwarded-for": "10.0.0.1" } });

test("an enrollment token shows a one-time install command with the server URL", async ({ page, baseURL }) => {
  await signUpMsp(page, { email: unique("tech"), mspName: "Northwind Services" });
  const customerId = await createCustomer(page, "Contoso");
  await page.goto(`/customers/${customerId}`);
  await expect(page.getByTestId("customer-name")).toHaveText("Contoso");
  await expect(page.getByText("No machines enrolled yet")).toBeVisible();

  // Out-of-range input is refused by the server and shown beside the field.
  await page.getByLabel("Token valid for (hours)").fill("0");
  await page.getByRole("button", { name: "Create enrollment token" }).click();
  await expect(page.locator("#expiresInHours-error")).toBeVisible();
  await expect(page.getByTestId("install-command")).toHaveCount(0);

  await page.getByLabel("Token valid for (hours)").fill("24");
  await page.getByRole("button", { name: "Create enrollment token" }).click();
  const command = page.getByTestId("install-command");
  await expect(command).toBeVisible();
  const text = (await command.textContent())!;
  expect(text).toContain(baseURL!);
  const row = page.getByTestId("enrollment-tokens").getByRole("row").nth(1);
  await expect(row).toContainText("active");

  // The token is shown once: after "Done" (or a reload) only its state remains.
  await page.getByRole("button", { name: "Done" }).click();
  await expect(page.getByTestId("install-command")).toHaveCount(0);
  await page.reload();
  await expect(page.getByTestId("install-command")).toHaveCount(0);
  await expect(page.locator("body")).not.toContainText(text.trim());

  await page.getByTestId("enrollment-tokens").getByRole("button", { name: "Revoke" }).click();
  await expect(page.getByTestId("enrollment-tokens").getByRole("row").nth(1)).toContainText("revoked");
});
