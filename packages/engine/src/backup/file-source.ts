/** Reads a file as a sequence of large pieces without holding it in memory. */
import type { FileHandle } from "node:fs/promises";

export const READ_PIECE = 4 * 1024 * 1024;

export async function* readPieces(fh: FileHandle, pieceSize = READ_PIECE): AsyncGenerator<Buffer> {
  let pos = 0;
  for (;;) {
    const buf = Buffer.allocUnsafe(pieceSize);
    const { bytesRead } = await fh.read(buf, 0, pieceSize, pos);
    if (bytesRead === 0) return;
    pos += bytesRead;
    yield bytesRead === pieceSize ? buf : buf.subarray(0, bytesRead);
  }
}

/** Limits how many files are read at once: each costs up to 2×max-chunk of buffer. */
export class Semaphore {
  private waiters: Array<() => void> = [];
  constructor(private free: number) {}
  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((r) => this.waiters.push(r));
  }
  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.free++;
  }
  async with<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await fn();
    } finally {
      this.release();
    }
  }
}
