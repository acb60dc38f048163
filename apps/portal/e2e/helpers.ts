import { randomBytes } from "node:crypto";
import { expect, type Page } from "@playwright/test";

export const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString("hex")}@example.test`;
export const PASSWORD = "correct horse battery";

/** Signs up through the UI and returns the new MSP's id. */
export async function signUpMsp(page: Page, opts: { email: string; mspName: string; name?: string }): Promise<string> {
  await page.goto("/sign-up");
  await page.getByLabel("Your name").fill(opts.name ?? "Olivia Owner");
  await page.getByLabel("Email").fill(opts.email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByLabel("MSP (company) name").fill(opts.mspName);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/msp\/[0-9a-f-]{36}$/);
  await expect(page.getByRole("heading", { level: 1, name: opts.mspName })).toBeVisible();
  return page.url().split("/").at(-1)!;
}

/** Creates a customer from the MSP dashboard and returns its id. */
export async function createCustomer(page: Page, name: string): Promise<string> {
  await page.getByLabel("Customer name").fill(name);
  await page.getByRole("button", { name: "Create customer" }).click();
  const link = page.getByTestId("customers").getByRole("link", { name, exact: true });
  await expect(link).toBeVisible();
  return (await link.getAttribute("href"))!.split("/").at(-1)!;
}

export async function signOut(page: Page) {
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/sign-in/);
}

export async function signIn(page: Page, email: string, password = PASSWORD) {
  await page.goto("/sign-in");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** Turns on TOTP from the security page (already signed in); returns the secret for later codes. */
export async function enableTotp(page: Page, generate: (secret: string) => string): Promise<string> {
  await page.goto("/settings/security");
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Set up two-factor authentication" }).click();
  const secret = (await page.getByTestId("totp-secret").textContent())!.trim();
  await page.getByLabel("Code from the app").fill(generate(secret));
  await page.getByRole("button", { name: "Verify and turn on" }).click();
  await expect(page.getByTestId("mfa-enabled")).toBeVisible();
  return secret;
}

/** From a users page (MSP or customer): invites `email` with `role`, signs out, and joins through the emailed link. */
export async function inviteAndJoin(page: Page, usersUrl: string, email: string, role: string, name: string) {
  await page.goto(usersUrl);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Role").selectOption(role);
  await page.getByRole("button", { name: "Send invitation" }).click();
  await expect(page.getByText(`Invitation sent to ${email}`)).toBeVisible();
  await signOut(page);
  await page.goto("/dev/outbox");
  await page.getByTestId("outbox-message").filter({ hasText: email }).first().getByRole("link", { name: /\/invite\// }).click();
  await page.getByLabel("Your name").fill(name);
  await page.getByLabel("Choose a password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account and join" }).click();
}

/** A tRPC procedure over HTTP as the browser calls it (superjson envelope), with the page's cookies. */
export async function trpcCall(request: import("@playwright/test").APIRequestContext, proc: string, input: unknown, kind: "query" | "mutation") {
  const envelope = JSON.stringify({ json: input });
  const res =
    kind === "query"
      ? await request.get(`/api/trpc/${proc}?input=${encodeURIComponent(envelope)}`)
      : await request.post(`/api/trpc/${proc}`, { data: envelope, headers: { "content-type": "application/json" } });
  return { status: res.status(), text: await res.text() };
}

/** A policy watching `path` with a 5 s RPO, created on the MSP's policies page; returns its card. */
export async function createFolderPolicy(page: Page, mspId: string, name: string, path: string) {
  await page.goto(`/msp/${mspId}/policies`);
  await page.getByRole("button", { name: "New policy" }).click();
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Recovery point objective (seconds)").fill("5");
  await page.getByLabel("Include paths (one per line)").fill(path);
  await page.getByRole("button", { name: "Create policy" }).click();
  return page.getByTestId("policy").filter({ hasText: name });
}

/** Assigns a policy card to a customer (its default) or, with `machine`, to one of its machines. */
export async function assignPolicy(card: import("@playwright/test").Locator, customer: string, machine?: string) {
  await card.getByLabel("Customer").selectOption({ label: customer });
  if (machine) await card.getByLabel("Applies to").selectOption({ label: `Machine: ${machine}` });
  await card.getByRole("button", { name: "Assign" }).click();
  await expect(card.getByText("Assigned")).toBeVisible();
}

/** A fresh enrollment token from the customer page's button, and the install command it was shown in. */
export async function enrollmentToken(page: Page, customerId: string): Promise<{ token: string; command: string }> {
  await page.goto(`/customers/${customerId}`);
  await page.getByRole("button", { name: "Create enrollment token" }).click();
  const command = (await page.getByTestId("install-command").textContent())!;
  return { token: command.match(/--token=(\S+)/)![1]!, command };
}
