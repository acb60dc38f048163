/**
 * Events for the server (unreadable files, retries, hook failures…), held in
 * a bounded buffer until the server takes them: an agent offline for a day
 * must not grow without limit, so the oldest are dropped and counted.
 */
import type { AgentClient, AgentEvent } from "@tidemark/agent-protocol";

export class EventBuffer {
  private buf: AgentEvent[] = [];
  private dropped = 0;
  constructor(
    private readonly limit = 5000,
    private readonly log: (line: string) => void = () => {},
  ) {}

  add(level: AgentEvent["level"], kind: AgentEvent["kind"], message: string, path?: string): void {
    this.log(`${level} ${kind}: ${message}${path ? ` (${path})` : ""}`);
    this.buf.push({ time: new Date().toISOString(), level, kind, message: message.slice(0, 4000), ...(path ? { path: path.slice(0, 4096) } : {}) });
    if (this.buf.length > this.limit) {
      this.dropped += this.buf.length - this.limit;
      this.buf.splice(0, this.buf.length - this.limit);
    }
  }

  /** What waits to be sent (oldest first). */
  pending(): readonly AgentEvent[] {
    return [...this.buf];
  }

  get size() {
    return this.buf.length;
  }

  /** Sends in batches; what fails stays for the next try (the error propagates). */
  async flush(api: AgentClient): Promise<void> {
    if (this.dropped > 0) {
      this.buf.unshift({ time: new Date().toISOString(), level: "warn", kind: "error", message: `${this.dropped} older event(s) dropped while the server was unreachable` });
      this.dropped = 0;
    }
    while (this.buf.length > 0) {
      const batch = this.buf.slice(0, 1000);
      await api.events(batch);
      this.buf.splice(0, batch.length);
    }
  }
}
