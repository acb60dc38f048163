/**
 * The state directory: machine identity and the customer's data key
 * (owner-only), the spool repository, the upload queue and status.json.
 *
 *   machine.json   credential, data key, repository config, policy (0600)
 *   status.json    what `status` prints (written by `run`)
 *   spool/         a local engine repository (same keys and chunker as the customer's)
 *   queue/         ordered upload work: packs, then the point that needs them
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { enrollResponseSchema, policySchema, repositoryConfigSchema } from "@tidemark/agent-protocol";
import { restrictStateDir } from "./state-acl";
import type { Exec } from "./vss";

export function defaultStateDir(platform: NodeJS.Platform = process.platform): string {
  // ProgramData is fixed on every supported Windows install; reading it from the environment would need @tidemark/config.
  return platform === "win32" ? "C:\\ProgramData\\Tidemark" : "/var/lib/tidemark";
}

export const machineFileSchema = z.object({
  v: z.literal(1),
  serverUrl: z.url(),
  name: z.string(),
  machineId: z.uuid(),
  machineSecret: z.string(),
  customerId: z.uuid(),
  dataKey: z.string(),
  /** Wraps the data key inside the local spool repository (the spool never holds it in clear). */
  spoolKek: z.string(),
  repository: enrollResponseSchema.shape.repository,
  policy: policySchema,
  policyEtag: z.string().optional(),
  enrolledAt: z.string(),
});
export type MachineFile = z.infer<typeof machineFileSchema>;

export const statusFileSchema = z.object({
  pid: z.number().int(),
  updatedAt: z.string(),
  state: z.enum(["running", "stopped", "fatal"]),
  lastPoint: z.object({ pointId: z.string(), time: z.string(), consistency: z.string() }).optional(),
  pendingUploads: z.number().int(),
  pendingBytes: z.number(),
  lastError: z.string().optional(),
});
export type StatusFile = z.infer<typeof statusFileSchema>;

export interface StateDirOptions {
  /** Default: this process's platform. "win32" restricts the folder's NTFS ACL (src/state-acl.ts). */
  platform?: NodeJS.Platform;
  /** Runs icacls (injected in tests). */
  exec?: Exec;
}

export class StateDir {
  private restricted = false;
  constructor(
    readonly dir: string,
    private readonly opts: StateDirOptions = {},
  ) {}
  get machinePath() {
    return join(this.dir, "machine.json");
  }
  get statusPath() {
    return join(this.dir, "status.json");
  }
  get spoolDir() {
    return join(this.dir, "spool");
  }
  get queueDir() {
    return join(this.dir, "queue");
  }

  async ensure(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    // mkdir's mode is ignored for an existing directory: a pre-made one is tightened too.
    await chmod(this.dir, 0o700);
    await this.secure();
  }

  /** Windows: SYSTEM + Administrators only (NTFS ignores the POSIX modes); once per process. Elsewhere nothing. */
  async secure(): Promise<void> {
    if ((this.opts.platform ?? process.platform) !== "win32" || this.restricted) return;
    await restrictStateDir(this.dir, this.opts.exec);
    this.restricted = true;
  }

  async readMachine(): Promise<MachineFile> {
    let text: string;
    try {
      text = await readFile(this.machinePath, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new Error(`not enrolled: ${this.machinePath} does not exist (run: tidemark-agent enroll --server URL --token=TOKEN)`);
      throw e;
    }
    const parsed = machineFileSchema.safeParse(JSON.parse(text));
    if (!parsed.success) throw new Error(`${this.machinePath} is damaged: ${parsed.error.issues[0]?.path.join(".")}: ${parsed.error.issues[0]?.message}`);
    return parsed.data;
  }

  async writeMachine(m: MachineFile): Promise<void> {
    await this.ensure();
    await writePrivate(this.machinePath, JSON.stringify(machineFileSchema.parse(m), null, 2));
  }

  async readStatus(): Promise<StatusFile | undefined> {
    try {
      return statusFileSchema.parse(JSON.parse(await readFile(this.statusPath, "utf8")));
    } catch {
      return undefined;
    }
  }

  async writeStatus(s: StatusFile): Promise<void> {
    await writePrivate(this.statusPath, JSON.stringify(s, null, 2));
  }
}

/** Write-to-temp then rename: a crash leaves the old file or the new one, never half of one. */
export async function writePrivate(path: string, text: string | Uint8Array): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

export const newSpoolKek = () => randomBytes(32).toString("base64");
export { repositoryConfigSchema };
