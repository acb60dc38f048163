import { defineConfig } from "@playwright/test";

const port = 3100;

export default defineConfig({
  testDir: "./e2e",
  // The portal and PostgreSQL share two cores with everything else: one browser at a time.
  workers: 1,
  // One retry. Every form's submit button now waits for hydration (components/form.tsx
  // SubmitButton), but plain onClick buttons ("New policy", "Edit", "Sign out") still ignore a click
  // that lands before React hydrates, and the shared 2-core box stretches long tests past their
  // timeout. A test that passes only on retry is reported as "flaky" in the output — report and fix
  // it; a test that fails twice fails the run.
  retries: 1,
  fullyParallel: false,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [["list"]],
  use: {
    baseURL: `http://localhost:${port}`,
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  webServer: {
    command: `node --import tsx e2e/serve.ts ${port}`,
    url: `http://localhost:${port}/api/health`,
    reuseExistingServer: false,
    timeout: 120_000,
    stdout: "pipe",
    stderr: "pipe",
    gracefulShutdown: { signal: "SIGTERM", timeout: 10_000 },
  },
});
