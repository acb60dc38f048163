import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, type Page, type Route, test } from "@playwright/test";
import { createCustomer, signUpMsp, unique } from "./helpers";

// Each spec is its own client: better-auth rate-limits sign-up/sign-in per client address.
test.use({ extraHTTPHeaders: { "x-forwarded-for": "10.0.0.40" } });

const src = join(dirname(fileURLToPath(import.meta.url)), "../src");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith(".tsx") ? [p] : [];
  });
}

/**
 * Holds the page's JavaScript so the server-rendered HTML sits there un-hydrated, the way a slow
 * network or a busy browser leaves it; `release()` lets the scripts through.
 */
async function holdScripts(page: Page) {
  const held: Route[] = [];
  let open = false;
  await page.route("**/_next/static/**/*.js", (route) => (open ? route.continue() : void held.push(route)));
  return {
    held: () => held.length,
    async release() {
      open = true;
      for (const r of held.splice(0)) await r.continue();
    },
  };
}

test("every form in the portal submits through the one hydration-aware SubmitButton", () => {
  const offenders: string[] = [];
  for (const file of sources(src)) {
    const text = readFileSync(file, "utf8");
    const name = relative(src, file);
    if (name === join("components", "form.tsx")) continue;
    if (/type="submit"/.test(text)) offenders.push(`${name}: a raw submit button`);
    if (/<form[\s>]/.test(text) && !/<SubmitButton[\s>]/.test(text)) offenders.push(`${name}: a form without SubmitButton`);
  }
  expect(offenders).toEqual([]);
});

test("before hydration the sign-in form cannot be submitted natively; after it, the typed input is used", async ({ page }) => {
  const scripts = await holdScripts(page);
  await page.goto("/sign-in", { waitUntil: "domcontentloaded" });
  const button = page.getByRole("button", { name: "Sign in" });
  await expect(button).toBeDisabled();
  expect(scripts.held()).toBeGreaterThan(0);

  const email = unique("nobody");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("not the password at all");
  // Enter in a field is the browser's implicit submission: with the submit button disabled there is none.
  await page.getByLabel("Password").press("Enter");
  await page.waitForTimeout(500);
  expect(new URL(page.url()).search).toBe("");
  await expect(page.getByLabel("Password")).toHaveValue("not the password at all");

  await scripts.release();
  await expect(button).toBeEnabled();
  // What was typed before hydration is what React submits.
  await expect(page.getByLabel("Email")).toHaveValue(email);
  await button.click();
  await expect(page.getByRole("alert").filter({ hasText: /invalid email or password/i })).toBeVisible();
  expect(new URL(page.url()).search).toBe("");
});

test("an app page's form waits for hydration too and keeps what was typed", async ({ page }) => {
  const mspId = await signUpMsp(page, { email: unique("hydrate"), mspName: "Slow Network MSP" });
  const scripts = await holdScripts(page);
  await page.goto(`/msp/${mspId}`, { waitUntil: "domcontentloaded" });
  const create = page.getByRole("button", { name: "Create customer" });
  await expect(create).toBeDisabled();
  await page.getByLabel("Customer name").fill("Typed Early Ltd");
  await page.getByLabel("Customer name").press("Enter");
  await page.waitForTimeout(500);
  expect(new URL(page.url()).search).toBe("");

  await scripts.release();
  await expect(create).toBeEnabled();
  await expect(page.getByLabel("Customer name")).toHaveValue("Typed Early Ltd");
  await create.click();
  await expect(page.getByTestId("customers").getByRole("link", { name: "Typed Early Ltd", exact: true })).toBeVisible();

  // The audit filter's customer list is a SelectField inside a form: labelled, with every customer.
  await createCustomer(page, "Second Select Ltd");
  await page.goto(`/msp/${mspId}/audit`);
  const customer = page.getByLabel("Customer", { exact: true });
  await expect(customer.locator("option")).toHaveCount(3);
  await customer.selectOption({ label: "Second Select Ltd" });
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page.getByTestId("audit-events")).toContainText("Second Select Ltd");
  await expect(page.getByTestId("audit-events")).not.toContainText("Typed Early Ltd");
});
