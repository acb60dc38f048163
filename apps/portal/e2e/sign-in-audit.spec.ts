import { expect, type Page, test } from "@playwright/test";
import { PASSWORD, signIn, signOut, signUpMsp, unique } from "./helpers";

// Each spec is its own client: better-auth rate-limits sign-up/sign-in per client address. The
// portal believes this header only because the e2e server trusts loopback as a proxy (serve.ts).
test.use({ extraHTTPHeaders: { "x-forwarded-for": "10.0.0.41" } });

async function wrongPassword(page: Page, email: string) {
  await signIn(page, email, "not the password at all");
  await expect(page.getByRole("alert").filter({ hasText: /invalid email or password/i })).toBeVisible();
}

test("sign-in, a failed sign-in and sign-out are in the MSP's audit log with the client address and reason", async ({ page }) => {
  const email = unique("audited");
  const mspId = await signUpMsp(page, { email, mspName: "Audited Sign-ins" });
  await signOut(page);
  await wrongPassword(page, email);
  await signIn(page, email);
  await expect(page).toHaveURL(/\/msp\//);

  await page.goto(`/msp/${mspId}/audit`);
  await page.getByLabel("Action").fill("auth.");
  await page.getByRole("button", { name: "Filter" }).click();
  const rows = page.getByTestId("audit-events").getByRole("row");
  // Newest first: the sign-in, the failure (with its reason), the sign-out after sign-up.
  await expect(rows).toHaveCount(4);
  await expect(rows.nth(1)).toContainText("auth.sign_in");
  await expect(rows.nth(1)).toContainText("password");
  await expect(rows.nth(2)).toContainText("auth.sign_in.failed");
  await expect(rows.nth(2)).toContainText("invalid password");
  await expect(rows.nth(3)).toContainText("auth.sign_out");
  for (const i of [1, 2, 3]) {
    await expect(rows.nth(i)).toContainText("10.0.0.41");
    await expect(rows.nth(i)).toContainText(email);
  }
});

test("wrong passwords from several addresses lock the account with a clear message; other accounts are unaffected", async ({ browser, baseURL }, testInfo) => {
  // Three sign-ups and seven sign-ins in three browsers.
  test.setTimeout(120_000);
  // A retry within the minute must not meet its first attempt's per-address counts.
  const from = async (host: number) =>
    (await browser.newContext({ baseURL, extraHTTPHeaders: { "x-forwarded-for": `10.0.${1 + testInfo.retry}.${host}` } })).newPage();
  const owner = await from(44);
  const email = unique("locked");
  await signUpMsp(owner, { email, mspName: "Locked Out MSP" });
  await signOut(owner);
  // Five guesses spread over two addresses: neither address reaches its own limit of five a minute.
  const guesser = await from(42);
  for (let i = 0; i < 3; i++) await wrongPassword(guesser, email);
  for (let i = 0; i < 2; i++) await wrongPassword(owner, email);

  // The right password is refused for now, and the message says why.
  await signIn(owner, email);
  await expect(owner.getByRole("alert").filter({ hasText: "Too many failed sign-in attempts for this account. Try again in a minute." })).toBeVisible();
  await expect(owner).toHaveURL(/\/sign-in/);

  // Another account signing in from the guessing address is not affected by that account's lock.
  const bystander = unique("bystander");
  const third = await from(43);
  await signUpMsp(third, { email: bystander, mspName: "Bystander MSP" });
  await signOut(third);
  await signIn(guesser, bystander, PASSWORD);
  await expect(guesser).toHaveURL(/\/msp\//);
  for (const p of [owner, guesser, third]) await p.context().close();
});
