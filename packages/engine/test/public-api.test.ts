import { describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import * as engine from "../src/index";
import { memRepo } from "./helpers";

describe("public entry", () => {
  it("exports what embedders reach (agent: pack re-sealing, index objects, key wrapping)", () => {
    for (const name of ["wrapWithKek", "sealObject", "openObject", "writeIndexObject", "parseTrailer", "openBlob", "PackWriter"] as const) {
      expect(typeof engine[name], name).toBe("function");
    }
    expect(engine.INDEX_PREFIX).toBe("index/");
    expect(engine.SNAPSHOT_PREFIX).toBe("snapshots/");
  });

  it("the exported pack pieces round-trip a blob through a pack and its trailer", async () => {
    const { repo } = await memRepo();
    const w = new engine.PackWriter(repo.keys.enc);
    const data = randomBytes(1000);
    const id = repo.id(data);
    w.add(engine.BLOB_DATA, Buffer.from(id, "hex"), data, 0);
    const pack = w.finish();
    const parsed = engine.parseTrailer(repo.keys, pack.id, pack.bytes);
    expect(parsed.blobs.map((b) => b.id.toString("hex"))).toEqual([id]);
    const b = parsed.blobs[0]!;
    const key = repo.packKey(pack.id, parsed.salt);
    const sealed = pack.bytes.subarray(b.offset, b.offset + b.length);
    expect(engine.openBlob(repo.keys, pack.id, key, b, sealed).equals(data)).toBe(true);
    const sealedObj = engine.sealObject(repo.keys.enc, "snapshot", Buffer.from("x"));
    expect(() => engine.openObject(repo.keys.enc, "index", sealedObj, "n")).toThrow();
    expect(engine.openObject(repo.keys.enc, "snapshot", sealedObj, "n").toString()).toBe("x");
  });
});
