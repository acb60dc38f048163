/**
 * The upload queue: one small file per item, named so that lexical order is
 * the order of creation (packs of a point always precede the point). It
 * survives kill -9: an item is removed only after its work is durable on the
 * server side, and every item's work is idempotent when repeated.
 */
import { mkdir, readdir, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { writePrivate } from "./state";

export const queueItemSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("pack"), packId: z.string().regex(/^[0-9a-f]{64}$/), size: z.number().int().nonnegative() }),
  z.object({ kind: z.literal("point"), clientPointId: z.uuid(), snapshotId: z.string().regex(/^[0-9a-f]{64}$/) }),
]);
export type QueueItem = z.infer<typeof queueItemSchema>;

export class UploadQueue {
  private seq = 0;
  constructor(readonly dir: string) {}

  async ensure(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  async push(item: QueueItem): Promise<void> {
    // Time first, then a per-process counter: later restarts always sort after earlier items.
    const name = `${Date.now().toString().padStart(15, "0")}-${process.pid.toString().padStart(8, "0")}-${(this.seq++).toString().padStart(8, "0")}.json`;
    await writePrivate(join(this.dir, name), JSON.stringify(queueItemSchema.parse(item)));
  }

  async list(): Promise<Array<{ name: string; item: QueueItem }>> {
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((n) => n.endsWith(".json")).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw e;
    }
    const out: Array<{ name: string; item: QueueItem }> = [];
    for (const name of names) {
      try {
        out.push({ name, item: queueItemSchema.parse(JSON.parse(await readFile(join(this.dir, name), "utf8"))) });
      } catch {
        // A torn write cannot happen (temp + rename), so this is foreign junk: leave it, never crash on it.
      }
    }
    return out;
  }

  async remove(name: string): Promise<void> {
    await unlink(join(this.dir, name)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "ENOENT") throw e;
    });
  }
}
