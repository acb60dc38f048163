import { expect, test } from "@playwright/test";
import { PASSWORD, createCustomer, signOut, signUpMsp, unique } from "./helpers";

// Each spec is its own client: better-auth rate-limits sign-up/sign-in per client address.
test.use({ extraHTTPHeaders: { "x-forwarded-for": "10.0.0.2" } });

test("MSP invites a customer user who then sees only their own customer", async ({ page }) => {
  const ownerEmail = unique("owner");
  const mspId = await signUpMsp(page, { email: ownerEmail, mspName: "Harbor IT" });
  const acmeId = await createCustomer(page, "Acme Corp");
  const globexId = await createCustomer(page, "Globex");

  // Bad input comes back next to the field, and nothing is created.
  await page.getByLabel("Customer name").fill("");
  await page.getByRole("button", { name: "Create customer" }).click();
  await expect(page.locator(".field-error")).toBeVisible();
  await expect(page.getByTestId("customers").getByRole("row")).toHaveCount(3);

  await page.goto(`/customers/${acmeId}/users`);
  const userEmail = unique("clerk");
  await page.getByLabel("Email").fill(userEmail);
  await page.getByLabel("Role").selectOption("customer_user");
  await page.getByRole("button", { name: "Send invitation" }).click();
  await expect(page.getByText(`Invitation sent to ${userEmail}`)).toBeVisible();
  await expect(page.getByTestId("invitations").getByRole("row", { name: new RegExp(userEmail) })).toContainText("pending");
  await signOut(page);

  // The local outbox holds the email; its link is the way in.
  await page.goto("/dev/outbox");
  const mail = page.getByTestId("outbox-message").filter({ hasText: userEmail }).first();
  await expect(mail).toBeVisible();
  await mail.getByRole("link", { name: /\/invite\// }).click();
  await expect(page).toHaveURL(/\/invite\//);
  const inviteUrl = page.url();
  await expect(page.getByRole("heading", { name: /Join Acme Corp/ })).toBeVisible();

  await page.getByLabel("Your name").fill("Casey Clerk");
  await page.getByLabel("Choose a password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account and join" }).click();
  await expect(page).toHaveURL(new RegExp(`/customers/${acmeId}$`));
  await expect(page.getByTestId("customer-name")).toHaveText("Acme Corp");

  // A used invitation cannot be used again.
  await page.goto(inviteUrl);
  await expect(page.getByText(/already used/i)).toBeVisible();

  // Signing in again with the chosen password lands on the same, single customer.
  await page.goto("/");
  await signOut(page);
  // A bookmarked page asks for sign-in first, then returns to it.
  await page.goto(`/customers/${acmeId}/users`);
  await expect(page).toHaveURL(/\/sign-in\?next=/);
  await page.getByLabel("Email").fill(userEmail);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(new RegExp(`/customers/${acmeId}/users$`));
  await page.goto("/");
  await expect(page).toHaveURL(new RegExp(`/customers/${acmeId}$`));
  await expect(page.getByTestId("customer-name")).toHaveText("Acme Corp");
  await expect(page.locator("header")).not.toContainText("Globex");
  await expect(page.locator("header")).not.toContainText("Audit log");

  // Another customer of the same MSP, and the MSP itself, are refused.
  await page.goto(`/customers/${globexId}`);
  await expect(page.getByTestId("access-refused")).toBeVisible();
  await expect(page.getByText("Globex")).toHaveCount(0);
  await page.goto(`/msp/${mspId}`);
  await expect(page.getByTestId("access-refused")).toBeVisible();
  await expect(page.locator("main")).not.toContainText("Acme Corp");
});
