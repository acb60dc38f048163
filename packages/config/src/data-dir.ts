/**
 * The embedded default keeps everything (PGlite, Azurite, generated secrets)
 * under one folder so "delete .tidemark/" is a full reset.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { env } from "./env";

/** The repository root: two levels above packages/config/src. */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

export function dataDir(): string {
  return resolve(env().TIDEMARK_DATA_DIR ?? join(repoRoot, ".tidemark"));
}

export function ensureDataDir(sub?: string): string {
  const dir = sub ? join(dataDir(), sub) : dataDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/**
 * A secret generated once and stored owner-only under the data dir. Only the
 * embedded default uses this; production passes the secret in the environment.
 */
export function embeddedSecret(name: string, bytes = 32): string {
  const file = join(ensureDataDir("secrets"), name);
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const value = randomBytes(bytes).toString("base64");
  writeFileSync(file, `${value}\n`, { mode: 0o600, flag: "wx" });
  return value;
}
