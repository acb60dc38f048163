#!/usr/bin/env node
/**
 * The two README commands land here: `npm start` and `npm test`.
 *
 * A fresh machine has only Node 20 and npm, so this file must run with no
 * dependencies: it installs the pinned pnpm, the locked dependencies, and
 * (for tests) Debian's Chromium and a running PostgreSQL, then hands over to
 * pnpm/turbo. Plain .mjs on purpose: nothing is installed yet when it runs.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const PNPM_VERSION = "12.4.2";
const mode = process.argv[2];

// Native addons (zstd-napi) are compiled by node-gyp, which otherwise tries to
// download Node headers from the internet; Debian's node ships them in /usr.
const childEnv = {
  ...process.env,
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: "1",
  ...(existsSync("/usr/include/node/node.h") ? { npm_config_nodedir: "/usr" } : {}),
};

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit", env: childEnv, ...opts });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

function must(cmd, args, what) {
  const status = run(cmd, args);
  if (status !== 0) {
    console.error(`tidemark: ${what} failed (exit ${status}).`);
    process.exit(status);
  }
}

function quiet(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: "utf8", env: childEnv });
  return r.status === 0 ? (r.stdout ?? "").trim() : null;
}

function ensurePnpm() {
  if (quiet("pnpm", ["--version"]) === PNPM_VERSION) return "pnpm";
  console.log(`tidemark: installing pnpm ${PNPM_VERSION}…`);
  if (run("npm", ["install", "-g", "-E", `pnpm@${PNPM_VERSION}`]) === 0 && quiet("pnpm", ["--version"]) === PNPM_VERSION) {
    return "pnpm";
  }
  console.error(`tidemark: could not install pnpm ${PNPM_VERSION} globally; try: npm install -g pnpm@${PNPM_VERSION}`);
  process.exit(1);
}

function isRoot() {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

function ensureChromium() {
  if (existsSync("/usr/bin/chromium")) return;
  if (!isRoot() || !existsSync("/usr/bin/apt-get")) {
    console.error("tidemark: browser tests need Debian's Chromium at /usr/bin/chromium: sudo apt-get install -y chromium");
    process.exit(1);
  }
  console.log("tidemark: installing Debian chromium…");
  must("apt-get", ["install", "-y", "--no-install-recommends", "chromium"], "apt-get install chromium");
}

function ensurePostgres() {
  const url = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const { hostname, port } = new URL(url);
  const ready = () => spawnSync("pg_isready", ["-h", hostname, "-p", port || "5432"], { stdio: "ignore" }).status === 0;
  if (ready()) return;
  if (existsSync("/etc/postgresql")) {
    const versions = quiet("ls", ["/etc/postgresql"])?.split(/\s+/).filter(Boolean) ?? [];
    for (const v of versions) run("pg_ctlcluster", ["--skip-systemctl-redirect", v, "main", "start"]);
    for (let i = 0; i < 30 && !ready(); i++) spawnSync("sleep", ["1"]);
  }
  if (!ready()) {
    console.error(`tidemark: tests need PostgreSQL ≥ 15 at ${hostname}:${port || 5432} (set TEST_DATABASE_URL to use another server).`);
    process.exit(1);
  }
}

const pnpm = ensurePnpm();
must(pnpm, ["install", "--frozen-lockfile"], "pnpm install");

if (mode === "start") {
  must(pnpm, ["exec", "turbo", "run", "build", "--filter=@tidemark/portal", "--output-logs=errors-only"], "building the portal");
  process.exit(run(pnpm, ["--filter", "@tidemark/portal", "start"]));
} else if (mode === "test") {
  ensureChromium();
  ensurePostgres();
  const started = Date.now();
  must(pnpm, ["exec", "turbo", "run", "typecheck", "--output-logs=errors-only"], "typecheck");
  // Package suites share one PostgreSQL and two cores: one at a time keeps them honest and fast enough.
  must(pnpm, ["exec", "turbo", "run", "test", "--concurrency=1", "--output-logs=full"], "unit and integration tests");
  must(pnpm, ["exec", "turbo", "run", "build", "--filter=@tidemark/portal", "--output-logs=errors-only"], "building the portal");
  must(pnpm, ["--filter", "@tidemark/portal", "run", "test:e2e"], "browser tests");
  console.log(`tidemark: all tests passed in ${Math.round((Date.now() - started) / 1000)} s`);
} else {
  console.error("usage: node scripts/bootstrap.mjs start|test");
  process.exit(2);
}
