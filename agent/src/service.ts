/**
 * Installing the agent as an OS service. The commands and the unit text are
 * built by pure functions (unit-tested); install/uninstall only run them.
 */
import { execFile } from "node:child_process";
import { writeFile, unlink } from "node:fs/promises";
import { SERVICE_ENV, SERVICE_NODE_FLAGS } from "./memory";

export const SERVICE_NAME = "TidemarkAgent";
export const SYSTEMD_UNIT = "tidemark-agent.service";
export const SYSTEMD_UNIT_PATH = `/etc/systemd/system/${SYSTEMD_UNIT}`;

export interface ServiceTarget {
  /** Absolute path of node(.exe). */
  node: string;
  /** Absolute path of the bundled agent (tidemark-agent.mjs). */
  script: string;
  stateDir: string;
}

export interface Cmd {
  file: string;
  args: string[];
}

/** Windows quoting for one argv element inside sc.exe's binPath. */
function winQuote(s: string): string {
  if (/["\r\n]/.test(s)) throw new Error(`cannot quote ${JSON.stringify(s)} for a service command line`);
  return /[\s]/.test(s) ? `"${s}"` : s;
}

export function windowsInstallCommands(t: ServiceTarget): Cmd[] {
  const binPath = [t.node, ...SERVICE_NODE_FLAGS, t.script, "run", "--state-dir", t.stateDir].map(winQuote).join(" ");
  // sc.exe wants "key=" and the value as separate argv elements.
  return [
    { file: "sc.exe", args: ["create", SERVICE_NAME, "binPath=", binPath, "start=", "auto", "DisplayName=", "Tidemark Agent"] },
    { file: "sc.exe", args: ["description", SERVICE_NAME, "Tidemark continuous backup agent"] },
    // Restart after 5 s, 30 s, 60 s; reset the failure count after a day.
    { file: "sc.exe", args: ["failure", SERVICE_NAME, "reset=", "86400", "actions=", "restart/5000/restart/30000/restart/60000"] },
    { file: "sc.exe", args: ["start", SERVICE_NAME] },
  ];
}

export function windowsUninstallCommands(): Cmd[] {
  return [
    { file: "sc.exe", args: ["stop", SERVICE_NAME] },
    { file: "sc.exe", args: ["delete", SERVICE_NAME] },
  ];
}

function systemdQuote(s: string): string {
  if (/[\n"\\]/.test(s)) throw new Error(`cannot use ${JSON.stringify(s)} in a systemd unit`);
  return /[\s'$%]/.test(s) ? `"${s.replace(/%/g, "%%").replace(/\$/g, "$$$$")}"` : s;
}

export function systemdUnit(t: ServiceTarget): string {
  const exec = [t.node, ...SERVICE_NODE_FLAGS, t.script, "run", "--state-dir", t.stateDir].map(systemdQuote).join(" ");
  const env = Object.entries(SERVICE_ENV).map(([k, v]) => `Environment=${k}=${v}\n`).join("");
  return `[Unit]
Description=Tidemark continuous backup agent
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart=${exec}
# Resident memory: see src/memory.ts (measured with bench/idle.ts under the same settings).
${env}Restart=always
RestartSec=5
# Exit code 3 = the server rejected the machine credential: restarting cannot help.
RestartPreventExitStatus=3
User=root
UMask=0077
Nice=10
IOSchedulingClass=idle

[Install]
WantedBy=multi-user.target
`;
}

export function linuxInstallCommands(): Cmd[] {
  return [
    { file: "systemctl", args: ["daemon-reload"] },
    { file: "systemctl", args: ["enable", "--now", SYSTEMD_UNIT] },
  ];
}

export function linuxUninstallCommands(): Cmd[] {
  return [{ file: "systemctl", args: ["disable", "--now", SYSTEMD_UNIT] }];
}

export type Runner = (cmd: Cmd) => Promise<void>;
const run: Runner = (cmd) =>
  new Promise((resolve, reject) =>
    execFile(cmd.file, cmd.args, { windowsHide: true }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd.file} ${cmd.args.join(" ")} failed: ${(stderr || stdout || err.message).toString().trim()}`)) : resolve(),
    ),
  );

export async function installService(t: ServiceTarget, platform: NodeJS.Platform = process.platform, runner: Runner = run): Promise<string> {
  if (platform === "win32") {
    for (const c of windowsInstallCommands(t)) await runner(c);
    return `Windows service ${SERVICE_NAME} created and started`;
  }
  if (platform !== "linux") throw new Error(`install-service supports Windows and Linux (systemd), not ${platform}`);
  await writeFile(SYSTEMD_UNIT_PATH, systemdUnit(t), { mode: 0o644 });
  for (const c of linuxInstallCommands()) await runner(c);
  return `systemd unit ${SYSTEMD_UNIT_PATH} installed and started`;
}

export async function uninstallService(platform: NodeJS.Platform = process.platform, runner: Runner = run): Promise<string> {
  if (platform === "win32") {
    const [stop, del] = windowsUninstallCommands();
    await runner(stop!).catch(() => undefined); // already stopped is fine
    await runner(del!);
    return `Windows service ${SERVICE_NAME} removed`;
  }
  if (platform !== "linux") throw new Error(`uninstall-service supports Windows and Linux (systemd), not ${platform}`);
  for (const c of linuxUninstallCommands()) await runner(c).catch(() => undefined);
  await unlink(SYSTEMD_UNIT_PATH).catch(() => undefined);
  await runner({ file: "systemctl", args: ["daemon-reload"] });
  return `systemd unit ${SYSTEMD_UNIT} removed`;
}
