/**
 * Key hierarchy: one random 32-byte master key per repository (per customer),
 * from which every working key is derived with HKDF. The master key never
 * touches storage in clear: each `keys/<id>` object wraps it either with a
 * password (scrypt, parameters stored beside it) or with the service's KEK.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, scrypt as scryptCb } from "node:crypto";
import { z } from "zod";
import { WrongPasswordError } from "../errors";

export interface RepoKeys {
  /** Keys the HMAC that names chunks, trees and manifests. */
  readonly id: Buffer;
  /** Root for per-pack and per-object encryption keys. */
  readonly enc: Buffer;
  /** Seed for the FastCDC gear table: boundaries reveal nothing comparable across customers. */
  readonly gear: Buffer;
}

const HKDF_SALT = Buffer.from("tidemark-repository-v1");

export function deriveKeys(master: Uint8Array): RepoKeys {
  const d = (info: string) => Buffer.from(hkdfSync("sha256", master, HKDF_SALT, info, 32));
  return { id: d("chunk-id"), enc: d("encryption"), gear: d("gear-seed") };
}

export function newMasterKey(): Buffer {
  return randomBytes(32);
}

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** ~64 MiB and ~0.2 s here: costly to brute-force, cheap enough for a CLI. */
export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 16, r: 8, p: 1 };

const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/);

export const keyFileSchema = z.discriminatedUnion("kind", [
  z.object({
    v: z.literal(1),
    kind: z.literal("password"),
    scrypt: z.object({ N: z.number().int().min(2), r: z.number().int().min(1), p: z.number().int().min(1), salt: b64 }),
    nonce: b64,
    wrapped: b64,
    created: z.string(),
  }),
  z.object({
    v: z.literal(1),
    kind: z.literal("kek"),
    /** Which service KEK wrapped it, so a rotated KEK can be told apart. */
    kekId: z.string(),
    nonce: b64,
    wrapped: b64,
    created: z.string(),
  }),
]);
export type KeyFile = z.infer<typeof keyFileSchema>;

const WRAP_AAD = Buffer.from("tidemark-master-key-v1");

function wrap(wrapKey: Buffer, master: Uint8Array): { nonce: string; wrapped: string } {
  const nonce = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", wrapKey, nonce);
  c.setAAD(WRAP_AAD);
  const ct = Buffer.concat([c.update(master), c.final(), c.getAuthTag()]);
  return { nonce: nonce.toString("base64"), wrapped: ct.toString("base64") };
}

function unwrap(wrapKey: Buffer, nonceB64: string, wrappedB64: string): Buffer {
  const ct = Buffer.from(wrappedB64, "base64");
  if (ct.length !== 48) throw new WrongPasswordError();
  const d = createDecipheriv("aes-256-gcm", wrapKey, Buffer.from(nonceB64, "base64"));
  d.setAAD(WRAP_AAD);
  d.setAuthTag(ct.subarray(32));
  try {
    return Buffer.concat([d.update(ct.subarray(0, 32)), d.final()]);
  } catch {
    throw new WrongPasswordError();
  }
}

function scrypt(password: string, salt: Buffer, p: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(password.normalize("NFC"), salt, 32, { N: p.N, r: p.r, p: p.p, maxmem: 256 * p.N * p.r + 64 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

export async function wrapWithPassword(master: Uint8Array, password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<KeyFile> {
  const salt = randomBytes(32);
  const k = await scrypt(password, salt, params);
  return { v: 1, kind: "password", scrypt: { ...params, salt: salt.toString("base64") }, ...wrap(k, master), created: new Date().toISOString() };
}

export function wrapWithKek(master: Uint8Array, kek: Uint8Array, kekId: string): KeyFile {
  if (kek.length !== 32) throw new Error("KEK must be 32 bytes");
  return { v: 1, kind: "kek", kekId, ...wrap(Buffer.from(kek), master), created: new Date().toISOString() };
}

export type Unlock = { password: string } | { kek: Uint8Array };

/** Throws WrongPasswordError when this key file was not wrapped with the given secret. */
export async function unwrapKeyFile(file: KeyFile, secret: Unlock): Promise<Buffer> {
  if (file.kind === "password") {
    if (!("password" in secret)) throw new WrongPasswordError();
    const { N, r, p, salt } = file.scrypt;
    const k = await scrypt(secret.password, Buffer.from(salt, "base64"), { N, r, p });
    return unwrap(k, file.nonce, file.wrapped);
  }
  if (!("kek" in secret)) throw new WrongPasswordError();
  return unwrap(Buffer.from(secret.kek), file.nonce, file.wrapped);
}
