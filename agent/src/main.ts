#!/usr/bin/env node
/**
 * tidemark-agent: enroll | run | status | install-service | uninstall-service
 */
import { realpathSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { Agent } from "./agent";
import { enroll } from "./enroll";
import { installService, uninstallService } from "./service";
import { defaultStateDir, StateDir } from "./state";
import { AGENT_VERSION } from "./version";

const USAGE = `tidemark-agent ${AGENT_VERSION}
usage:
  tidemark-agent enroll --server URL --token=TOKEN [--name NAME] [--state-dir DIR]
  tidemark-agent run [--state-dir DIR]          the service loop, in the foreground
  tidemark-agent status [--state-dir DIR]
  tidemark-agent install-service [--state-dir DIR]
  tidemark-agent uninstall-service
state dir default: ${defaultStateDir()}
`;

class UsageError extends Error {}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      server: { type: "string" },
      token: { type: "string" },
      name: { type: "string" },
      "state-dir": { type: "string" },
      // Test knobs: how often the loops look (defaults suit a service).
      "tick-ms": { type: "string" },
      "debounce-ms": { type: "string" },
      "heartbeat-ms": { type: "string" },
      "maintain-every": { type: "string" },
      // Encoder worker threads for a point without a parent (default: cores − 1; 0: on the main thread).
      "encode-workers": { type: "string" },
      // Decode worker threads for restore jobs (default: by restore size; 0: on the main thread).
      "decode-workers": { type: "string" },
    },
    strict: true,
  });
  const stateDir = resolve(values["state-dir"] ?? defaultStateDir());
  const num = (k: "tick-ms" | "debounce-ms" | "heartbeat-ms" | "maintain-every" | "encode-workers" | "decode-workers", min = 1) => {
    const v = values[k];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${k} must be an integer ≥ ${min}`);
    return n;
  };
  switch (cmd) {
    case "enroll": {
      if (!values.server || !values.token) throw new UsageError("enroll needs --server URL and --token=TOKEN");
      let url: URL;
      try {
        url = new URL(values.server);
      } catch {
        throw new UsageError(`--server is not a URL: ${values.server}`);
      }
      const r = await enroll({ serverUrl: url.toString(), token: values.token, stateDir, ...(values.name ? { name: values.name } : {}) });
      process.stdout.write(`enrolled: machine ${r.machineId} (customer ${r.customerId}); state in ${stateDir}\nnext: tidemark-agent install-service  (or: tidemark-agent run)\n`);
      return 0;
    }
    case "run": {
      const agent = new Agent({ stateDir, tickMs: num("tick-ms"), debounceMs: num("debounce-ms"), heartbeatMs: num("heartbeat-ms"), maintainEvery: num("maintain-every"), encodeWorkers: num("encode-workers", 0), decodeWorkers: num("decode-workers", 0) });
      return agent.run();
    }
    case "status": {
      const st = new StateDir(stateDir);
      const m = await st.readMachine();
      const s = await st.readStatus();
      const lines = [
        `machine:   ${m.name} (${m.machineId})`,
        `server:    ${m.serverUrl}`,
        `customer:  ${m.customerId}, container ${m.repository.container}`,
        `policy:    rpo ${m.policy.rpoSeconds} s, include ${m.policy.includePaths.join(", ") || "(none)"}${m.policy.excludePaths.length ? `, exclude ${m.policy.excludePaths.join(", ")}` : ""}`,
        s ? `agent:     ${s.state} (pid ${s.pid}, updated ${s.updatedAt})` : "agent:     has not run yet",
        s?.lastPoint ? `last point: ${s.lastPoint.pointId} at ${s.lastPoint.time} (${s.lastPoint.consistency})` : "last point: none yet",
        s ? `pending:   ${s.pendingUploads} upload item(s), ${s.pendingBytes} bytes spooled` : "",
        s?.lastError ? `last error: ${s.lastError}` : "",
      ];
      process.stdout.write(lines.filter(Boolean).join("\n") + "\n");
      return 0;
    }
    case "install-service": {
      const script = realpathSync(process.argv[1]!);
      // A service runs plain node: the TypeScript sources need tsx, the bundle does not.
      if (script.endsWith(".ts")) throw new UsageError("install-service must be run from the bundled agent: node dist/tidemark-agent.mjs install-service (build it with pnpm --filter @tidemark/agent bundle)");
      process.stdout.write((await installService({ node: process.execPath, script, stateDir })) + "\n");
      return 0;
    }
    case "uninstall-service":
      process.stdout.write((await uninstallService()) + "\n");
      return 0;
    case undefined:
    case "help":
    case "--help":
      process.stdout.write(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command: ${cmd}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: Error) => {
    const usage = e instanceof UsageError || (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS");
    process.stderr.write(`tidemark-agent: ${e.message}\n${usage ? USAGE : ""}`);
    process.exit(usage ? 2 : 1);
  },
);
