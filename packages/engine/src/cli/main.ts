#!/usr/bin/env tsx
/**
 * `tidemark` — the standalone CLI over the engine.
 *
 * Exit codes: 0 success; 1 the operation failed or found damage (check
 * errors, files not restored); 2 usage, configuration or wrong password;
 * 3 backup completed but some files could not be read (like restic);
 * 11 the repository is locked by another prune (restic's code for a lock failure).
 */
import { parseArgs } from "node:util";
import { EngineError, WrongPasswordError } from "../errors";
import { PruneLockedError } from "../prune";
import { UsageError } from "./context";
import { closeRepositories, COMMANDS, HELP } from "./commands";

const OPTIONS = {
  repo: { type: "string" },
  "password-file": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  // backup
  volume: { type: "string", multiple: true },
  host: { type: "string" },
  tag: { type: "string", multiple: true },
  parent: { type: "string" },
  // restore
  target: { type: "string" },
  "verify-ids": { type: "boolean" },
  // check
  "read-data": { type: "boolean" },
  subset: { type: "string" },
  // init
  "chunk-min": { type: "string" },
  "chunk-avg": { type: "string" },
  "chunk-max": { type: "string" },
  "pack-size": { type: "string" },
  // forget / prune
  "keep-last": { type: "string" },
  "keep-within": { type: "string" },
  "keep-hourly": { type: "string" },
  "keep-daily": { type: "string" },
  "keep-weekly": { type: "string" },
  "keep-monthly": { type: "string" },
  "keep-yearly": { type: "string" },
  prune: { type: "boolean" },
  "dry-run": { type: "boolean" },
  grace: { type: "string" },
  // rebuild-index
  all: { type: "boolean" },
} as const;

export type CliValues = ReturnType<typeof parse>["values"];

function parse(argv: string[]) {
  return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
}

export async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (e) {
    process.stderr.write(`tidemark: ${(e as Error).message}\n${HELP}`);
    return 2;
  }
  const [command, ...rest] = parsed.positionals;
  if (!command || parsed.values.help) {
    process.stdout.write(HELP);
    return command || parsed.values.help ? 0 : 2;
  }
  const handler = COMMANDS[command];
  if (!handler) {
    process.stderr.write(`tidemark: unknown command ${JSON.stringify(command)}\n${HELP}`);
    return 2;
  }
  try {
    return await handler(rest, parsed.values);
  } catch (e) {
    return report(e);
  } finally {
    await closeRepositories();
  }
}

function report(e: unknown): number {
  if (e instanceof WrongPasswordError) {
    process.stderr.write(`tidemark: ${e.message}\n`);
    return 2;
  }
  if (e instanceof PruneLockedError) {
    process.stderr.write(`tidemark: ${e.message}\n`);
    return 11;
  }
  if (e instanceof UsageError) {
    process.stderr.write(`tidemark: ${e.message}\n`);
    return 2;
  }
  if (e instanceof EngineError || (e instanceof Error && e.name.endsWith("Error") && "backend" in e)) {
    process.stderr.write(`tidemark: ${e.message}\n`);
    return 1;
  }
  process.stderr.write(`tidemark: ${(e as Error)?.stack ?? String(e)}\n`);
  return 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`tidemark: ${String(e)}\n`);
    process.exitCode = 1;
  },
);
