import { describe, expect, it } from "vitest";
import { EnvError, parseEnv } from "../src/env";

describe("env", () => {
  it("accepts an empty environment (embedded default)", () => {
    const e = parseEnv({});
    expect(e.DATABASE_URL).toBeUndefined();
    expect(e.PORT).toBe(3000);
  });

  it.each([
    ["DATABASE_URL", "mysql://x"],
    ["PUBLIC_URL", "not a url"],
    ["SMTP_URL", "http://mail"],
    ["TIDEMARK_KEK", "short"],
    ["PORT", "99999"],
  ])("names %s when it is malformed", (setting, value) => {
    expect(() => parseEnv({ [setting]: value })).toThrow(EnvError);
    try {
      parseEnv({ [setting]: value });
    } catch (e) {
      expect((e as EnvError).setting).toBe(setting);
      expect((e as EnvError).message).toMatch(new RegExp(`^Configuration error: ${setting} `));
      expect((e as EnvError).message).not.toContain("\n");
    }
  });

  it("decodes a hex or base64 KEK", () => {
    expect(parseEnv({ TIDEMARK_KEK: "ab".repeat(32) }).TIDEMARK_KEK).toBe("ab".repeat(32));
    expect(parseEnv({ TIDEMARK_KEK: Buffer.alloc(32, 7).toString("base64") }).TIDEMARK_KEK).toBeDefined();
  });
});
