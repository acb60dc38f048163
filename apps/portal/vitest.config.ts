import { defineConfig } from "vitest/config";

// e2e/ belongs to Playwright (it needs the built portal); vitest runs only the unit tests.
export default defineConfig({ test: { include: ["test/**/*.test.ts"] } });
