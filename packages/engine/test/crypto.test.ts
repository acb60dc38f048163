import { describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { deriveKeys, newMasterKey, unwrapKeyFile, wrapWithKek, wrapWithPassword } from "../src/crypto/keys";
import { decryptBlob, encryptBlob, encryptBlobInto, openObject, packKey, sealObject } from "../src/crypto/aead";
import { contentId, toHex } from "../src/id";
import { CorruptionError, WrongPasswordError } from "../src/errors";

const cheap = { N: 1024, r: 8, p: 1 };

describe("key hierarchy", () => {
  it("unwraps the master key with the right password and derives distinct keys", async () => {
    const master = newMasterKey();
    const file = await wrapWithPassword(master, "pw", cheap);
    expect(await unwrapKeyFile(file, { password: "pw" })).toEqual(master);
    const k = deriveKeys(master);
    expect(new Set([toHex(k.id), toHex(k.enc), toHex(k.gear)]).size).toBe(3);
    expect(deriveKeys(master).id).toEqual(k.id);
  });

  it("refuses a wrong password with a typed error", async () => {
    const file = await wrapWithPassword(newMasterKey(), "pw", cheap);
    await expect(unwrapKeyFile(file, { password: "pW" })).rejects.toBeInstanceOf(WrongPasswordError);
    await expect(unwrapKeyFile(file, { kek: randomBytes(32) })).rejects.toBeInstanceOf(WrongPasswordError);
  });

  it("wraps with a KEK and refuses another KEK", async () => {
    const master = newMasterKey();
    const kek = randomBytes(32);
    const file = wrapWithKek(master, kek, "kek-1");
    expect(await unwrapKeyFile(file, { kek })).toEqual(master);
    await expect(unwrapKeyFile(file, { kek: randomBytes(32) })).rejects.toBeInstanceOf(WrongPasswordError);
  });
});

describe("AEAD", () => {
  const keys = deriveKeys(newMasterKey());
  it("binds the chunk id, type and offset", () => {
    const key = packKey(keys.enc, randomBytes(32));
    const id = contentId(keys.id, Buffer.from("x"));
    const sealed = encryptBlob(key, 40, id, 0, [Buffer.from("hello")]);
    expect(decryptBlob(key, 40, id, 0, sealed)?.toString()).toBe("hello");
    expect(decryptBlob(key, 41, id, 0, sealed)).toBeNull();
    expect(decryptBlob(key, 40, id, 1, sealed)).toBeNull();
    expect(decryptBlob(key, 40, contentId(keys.id, Buffer.from("y")), 0, sealed)).toBeNull();
    const flipped = Buffer.from(sealed);
    flipped[2]! ^= 1;
    expect(decryptBlob(key, 40, id, 0, flipped)).toBeNull();
  });

  it("sealing into a pack buffer gives the same bytes as encryptBlob, including offsets beyond 32 bits", () => {
    const key = packKey(keys.enc, randomBytes(32));
    const id = contentId(keys.id, Buffer.from("z"));
    const payload = randomBytes(1000);
    for (const offset of [40, 2 ** 32 + 7]) {
      const out = Buffer.alloc(1200, 0xee);
      const n = encryptBlobInto(key, offset, id, 1, 1, payload, out, 50);
      expect(n).toBe(1 + payload.length + 16);
      expect(out.subarray(50, 50 + n).equals(encryptBlob(key, offset, id, 1, [Buffer.of(1), payload]))).toBe(true);
      expect(out[49]).toBe(0xee);
      expect(out[50 + n]).toBe(0xee);
      expect(decryptBlob(key, offset, id, 1, out.subarray(50, 50 + n))?.equals(Buffer.concat([Buffer.of(1), payload]))).toBe(true);
      expect(decryptBlob(key, offset + 2 ** 32, id, 1, out.subarray(50, 50 + n))).toBeNull();
    }
  });

  it("sealed objects are kind-bound and detect damage", () => {
    const s = sealObject(keys.enc, "index", Buffer.from("{}"));
    expect(openObject(keys.enc, "index", s, "n").toString()).toBe("{}");
    expect(() => openObject(keys.enc, "snapshot", s, "n")).toThrow(CorruptionError);
    expect(() => openObject(keys.enc, "index", s.subarray(0, s.length - 1), "n")).toThrow(CorruptionError);
    // Two seals of the same plaintext differ (fresh per-object key).
    expect(sealObject(keys.enc, "index", Buffer.from("{}")).equals(s)).toBe(false);
  });

  it("ids are keyed: the same data has different ids in different repositories", () => {
    const other = deriveKeys(newMasterKey());
    const d = Buffer.from("same data");
    expect(contentId(keys.id, d)).toEqual(contentId(keys.id, d));
    expect(contentId(keys.id, d)).not.toEqual(contentId(other.id, d));
    expect(contentId(keys.id, d).length).toBe(32);
  });
});
