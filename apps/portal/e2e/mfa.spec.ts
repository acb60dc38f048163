import { expect, test } from "@playwright/test";
import { generateSync } from "otplib";
import { PASSWORD, signIn, signOut, signUpMsp, unique } from "./helpers";

// Each spec is its own client: better-auth rate-limits sign-up/sign-in per client address.
test.use({ extraHTTPHeaders: { "x-forwarded-for": "10.0.0.3" } });

/** A 6-digit code that is certainly not the current one. */
function wrongCode(code: string): string {
  return String((Number(code) + 500_000) % 1_000_000).padStart(6, "0");
}

test("MSP user turns on TOTP and then needs a code to sign in", async ({ page }) => {
  const email = unique("mfa");
  await signUpMsp(page, { email, mspName: "Lighthouse MSP" });

  await page.goto("/settings/security");
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Set up two-factor authentication" }).click();
  const secret = (await page.getByTestId("totp-secret").textContent())!.trim();
  expect(secret).toMatch(/^[A-Z2-7]+=*$/);
  await expect(page.getByRole("img", { name: /QR code/ })).toBeVisible();

  // A wrong code does not turn MFA on.
  await page.getByLabel("Code from the app").fill(wrongCode(generateSync({ secret })));
  await page.getByRole("button", { name: "Verify and turn on" }).click();
  await expect(page.getByText("That code is not valid")).toBeVisible();

  await page.getByLabel("Code from the app").fill(generateSync({ secret }));
  await page.getByRole("button", { name: "Verify and turn on" }).click();
  await expect(page.getByTestId("mfa-enabled")).toBeVisible();

  await page.goto("/");
  await signOut(page);

  await signIn(page, email);
  const codeField = page.getByLabel("Authentication code");
  await expect(codeField).toBeVisible();
  await codeField.fill(wrongCode(generateSync({ secret })));
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByText("That code is not valid. Check your authenticator app and try again.")).toBeVisible();
  // Still signed out: the portal itself refuses.
  await expect(page).toHaveURL(/\/sign-in/);

  await codeField.fill(generateSync({ secret }));
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page).toHaveURL(/\/msp\/[0-9a-f-]{36}$/);
  await expect(page.getByRole("heading", { level: 1, name: "Lighthouse MSP" })).toBeVisible();
  await page.goto("/settings/security");
  await expect(page.getByTestId("mfa-enabled")).toBeVisible();
});
