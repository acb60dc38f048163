import { expect, test } from "@playwright/test";
import { generateSync } from "otplib";
import { enableTotp, inviteAndJoin, signUpMsp, unique } from "./helpers";

// Each spec is its own client: better-auth rate-limits sign-up/sign-in per client address.
test.use({ extraHTTPHeaders: { "x-forwarded-for": "10.0.0.5" } });

const totp = (secret: string) => generateSync({ secret });

test("an owner requires MFA; new staff must set it up before anything else", async ({ page }) => {
  const mspId = await signUpMsp(page, { email: unique("strict"), mspName: "Fortress MSP" });

  // Requiring MFA without having it would lock the owner out: refused, and the box stays off.
  await page.goto("/settings/security");
  const requireBox = page.getByLabel("Require two-factor authentication for all MSP users");
  await requireBox.check();
  await expect(page.getByText("Enable MFA on your own account before requiring it for everyone")).toBeVisible();
  await expect(requireBox).not.toBeChecked();

  await enableTotp(page, totp);
  await page.reload();
  await requireBox.check();
  await expect(page.getByText("Saved.")).toBeVisible();
  await page.reload();
  await expect(requireBox).toBeChecked();

  const techEmail = unique("tech");
  await inviteAndJoin(page, `/msp/${mspId}/users`, techEmail, "technician", "Terry Tech");

  // Every MSP page sends the technician to set up MFA first.
  await expect(page).toHaveURL(/\/settings\/security\?required=1$/);
  await expect(page.getByTestId("mfa-required")).toContainText("Fortress MSP");
  await page.goto(`/msp/${mspId}/policies`);
  await expect(page).toHaveURL(/\/settings\/security\?required=1$/);

  await enableTotp(page, totp);
  await page.goto(`/msp/${mspId}`);
  await expect(page.getByRole("heading", { level: 1, name: "Fortress MSP" })).toBeVisible();
});
