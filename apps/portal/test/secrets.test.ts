import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setEnvForTests } from "@tidemark/config";
import { afterEach, describe, expect, it } from "vitest";
import { MissingSettingError, requiredSecret } from "../src/server/secrets";

describe("requiredSecret", () => {
  const dirs: string[] = [];
  const freshDir = () => {
    const dir = mkdtempSync(join(tmpdir(), "tidemark-portal-secrets-"));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("generates and keeps an owner-only secret in the embedded default", () => {
    const dir = freshDir();
    setEnvForTests({ DATABASE_URL: "", AUTH_SECRET: "", TIDEMARK_DATA_DIR: dir });
    const first = requiredSecret("AUTH_SECRET");
    expect(first.length).toBeGreaterThanOrEqual(32);
    expect(requiredSecret("AUTH_SECRET")).toBe(first);
    const file = join(dir, "secrets", "auth-secret");
    expect(readFileSync(file, "utf8").trim()).toBe(first);
    expect(statSync(file).mode & 0o077).toBe(0);
    // The KEK is a different secret in a different file.
    expect(requiredSecret("TIDEMARK_KEK")).not.toBe(first);
  });

  it("stops production (DATABASE_URL set) with one line naming the missing setting", () => {
    const dir = freshDir();
    setEnvForTests({ DATABASE_URL: "postgres://db.example/tidemark", AUTH_SECRET: "", TIDEMARK_KEK: "", TIDEMARK_DATA_DIR: dir });
    expect(() => requiredSecret("AUTH_SECRET")).toThrow(MissingSettingError);
    expect(() => requiredSecret("TIDEMARK_KEK")).toThrow(/^Configuration error: TIDEMARK_KEK is required when DATABASE_URL is set/);
  });

  it("uses the configured value in production", () => {
    const secret = "x".repeat(40);
    setEnvForTests({ DATABASE_URL: "postgres://db.example/tidemark", AUTH_SECRET: secret, TIDEMARK_DATA_DIR: freshDir() });
    expect(requiredSecret("AUTH_SECRET")).toBe(secret);
  });
});
