import { defineConfig } from "vitest/config";

// One file at a time: each suite creates its own database and Azurite, and the machine is shared.
export default defineConfig({
  test: { testTimeout: 30_000, hookTimeout: 120_000, include: ["test/**/*.test.ts"], fileParallelism: false },
});
