import type { NextConfig } from "next";

const config: NextConfig = {
  // Internal packages ship TypeScript sources ("just-in-time"), so Next compiles them.
  transpilePackages: [
    "@tidemark/config",
    "@tidemark/db",
    "@tidemark/auth",
    "@tidemark/api",
    "@tidemark/notify",
    "@tidemark/worker",
    "@tidemark/storage",
    "@tidemark/backup",
    "@tidemark/agent-protocol",
    "@tidemark/engine",
    "@tidemark/alerts",
  ],
  // Native, WASM or file-layout-dependent packages stay as plain Node requires.
  serverExternalPackages: ["@electric-sql/pglite", "azurite", "pg-boss", "pg", "postgres", "nodemailer", "@node-rs/argon2", "zstd-napi", "@node-rs/xxhash"],
  poweredByHeader: false,
  typedRoutes: false,
};

export default config;
