import { describe, expect, it } from "vitest";
import { installService, linuxInstallCommands, SERVICE_NAME, systemdUnit, uninstallService, windowsInstallCommands, windowsUninstallCommands, type Cmd } from "../src/service";

describe("service installation (commands built, not run)", () => {
  it("Windows: sc.exe create with a quoted binPath, auto start, restart on failure", () => {
    const cmds = windowsInstallCommands({ node: "C:\\Program Files\\nodejs\\node.exe", script: "C:\\Program Files\\Tidemark\\tidemark-agent.mjs", stateDir: "C:\\ProgramData\\Tidemark" });
    expect(cmds[0]).toEqual({
      file: "sc.exe",
      args: ["create", SERVICE_NAME, "binPath=", '"C:\\Program Files\\nodejs\\node.exe" --max-semi-space-size=1 "C:\\Program Files\\Tidemark\\tidemark-agent.mjs" run --state-dir C:\\ProgramData\\Tidemark', "start=", "auto", "DisplayName=", "Tidemark Agent"],
    });
    expect(cmds.map((c) => c.args[0])).toEqual(["create", "description", "failure", "start"]);
    expect(cmds[2]!.args).toContain("restart/5000/restart/30000/restart/60000");
    expect(windowsUninstallCommands().map((c) => c.args.join(" "))).toEqual([`stop ${SERVICE_NAME}`, `delete ${SERVICE_NAME}`]);
  });

  it("refuses paths that cannot be quoted safely", () => {
    expect(() => windowsInstallCommands({ node: 'C:\\a"b\\node.exe', script: "x", stateDir: "y" })).toThrow(/cannot quote/);
    expect(() => systemdUnit({ node: "/usr/bin/node", script: "/opt/x\nExecStartPre=/bin/evil", stateDir: "/var/lib/tidemark" })).toThrow(/systemd unit/);
  });

  it("Linux: a systemd unit that restarts, except on a rejected credential (exit 3)", () => {
    const unit = systemdUnit({ node: "/usr/bin/node", script: "/opt/tidemark/tidemark-agent.mjs", stateDir: "/var/lib/tidemark" });
    expect(unit).toContain("ExecStart=/usr/bin/node --max-semi-space-size=1 /opt/tidemark/tidemark-agent.mjs run --state-dir /var/lib/tidemark\n");
    expect(unit).toContain("Environment=MALLOC_MMAP_THRESHOLD_=131072\nEnvironment=MALLOC_ARENA_MAX=2\n");
    expect(unit).toContain("Restart=always");
    expect(unit).toContain("RestartPreventExitStatus=3");
    expect(unit).toContain("UMask=0077");
    expect(unit).toContain("WantedBy=multi-user.target");
    expect(systemdUnit({ node: "/usr/bin/node", script: "/opt/my agent/a.mjs", stateDir: "/var/lib/t" })).toContain('"/opt/my agent/a.mjs"');
    expect(linuxInstallCommands().map((c) => [c.file, ...c.args].join(" "))).toEqual(["systemctl daemon-reload", "systemctl enable --now tidemark-agent.service"]);
  });

  it("install/uninstall on Windows run exactly the built commands; a failed stop does not block delete", async () => {
    const ran: Cmd[] = [];
    const t = { node: "C:\\node.exe", script: "C:\\a.mjs", stateDir: "C:\\ProgramData\\Tidemark" };
    await installService(t, "win32", async (c) => void ran.push(c));
    expect(ran).toEqual(windowsInstallCommands(t));
    ran.length = 0;
    await uninstallService("win32", async (c) => {
      ran.push(c);
      if (c.args[0] === "stop") throw new Error("service not started");
    });
    expect(ran.map((c) => c.args[0])).toEqual(["stop", "delete"]);
    await expect(installService(t, "darwin", async () => {})).rejects.toThrow(/not darwin/);
  });
});
