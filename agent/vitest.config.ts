import { defineConfig } from "vitest/config";

// The e2e tests spawn real agent processes (tsx start-up ~1 s each) on a shared 2-core box.
export default defineConfig({ test: { testTimeout: 30_000, hookTimeout: 60_000 } });
