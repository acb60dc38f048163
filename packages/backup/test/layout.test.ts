import { describe, expect, it } from "vitest";
import { SNAPSHOT_PREFIX } from "../../engine/src/snapshot";
import { packKeyName } from "../src/engine";
import { packObjectName, snapshotObjectName } from "../src/layout";
import { chunkId } from "./fixtures";

describe("repository layout used by the agent routes", () => {
  it("names packs and manifests exactly as the engine does", () => {
    for (let i = 0; i < 20; i++) {
      const id = chunkId();
      expect(packObjectName(id)).toBe(packKeyName(id));
      expect(snapshotObjectName(id)).toBe(SNAPSHOT_PREFIX + id);
    }
  });
});
