/**
 * Owner-only state directory. Windows: the exact icacls commands (they cannot run here) and
 * how StateDir runs them, with a fake exec. Linux: the real modes on this box.
 */
import { mkdir, readFile, stat, chmod, readdir } from "node:fs/promises";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { policySchema } from "@tidemark/agent-protocol";
import { restrictStateDir, stateDirAclCommands } from "../src/state-acl";
import { StateDir, writePrivate, type MachineFile } from "../src/state";
import type { Command, Exec } from "../src/vss";
import { removeTmp, tmp as helperTmp } from "./helpers";

const tmp = () => helperTmp("acl");
afterAll(removeTmp);

const uuid = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;
const machine: MachineFile = {
  v: 1,
  serverUrl: "https://portal.example/",
  name: "m",
  machineId: uuid(1),
  machineSecret: "s".repeat(43),
  customerId: uuid(2),
  dataKey: Buffer.alloc(32, 1).toString("base64"),
  spoolKek: Buffer.alloc(32, 2).toString("base64"),
  repository: { container: "c", blobEndpoint: "http://127.0.0.1:10000/a", config: { id: "r", chunker: { min: 1, avg: 2, max: 4 }, packSize: 65536, zstdLevel: 3, blockSize: 4096 } },
  policy: policySchema.parse({}),
  enrolledAt: new Date(0).toISOString(),
};

function recorder(fail?: (c: Command) => string | undefined) {
  const calls: Command[] = [];
  const exec: Exec = async (c) => {
    calls.push(c);
    const why = fail?.(c);
    if (why) throw new Error(why);
    return { stdout: "Successfully processed 1 files; Failed processing 0 files" };
  };
  return { calls, exec };
}

describe("state directory ACL on Windows (icacls, fake exec)", () => {
  it("builds exactly: reset below, owner Administrators, inheritance removed with SYSTEM + Administrators full control (by SID)", () => {
    expect(stateDirAclCommands("C:\\ProgramData\\Tidemark")).toEqual([
      { file: "icacls.exe", args: ["C:\\ProgramData\\Tidemark", "/reset", "/T", "/C", "/Q"] },
      { file: "icacls.exe", args: ["C:\\ProgramData\\Tidemark", "/setowner", "*S-1-5-32-544", "/T", "/C", "/Q"] },
      { file: "icacls.exe", args: ["C:\\ProgramData\\Tidemark", "/inheritance:r", "/grant:r", "*S-1-5-18:(OI)(CI)F", "*S-1-5-32-544:(OI)(CI)F", "/Q"] },
    ]);
    // A trailing separator is dropped (icacls reads `dir\` as an empty name below it); spaces stay one argument.
    expect(stateDirAclCommands("D:\\Tide Mark\\state\\")[0]!.args[0]).toBe("D:\\Tide Mark\\state");
    expect(stateDirAclCommands("\\\\srv\\share\\tm")[2]!.args[0]).toBe("\\\\srv\\share\\tm");
  });

  it("refuses relative paths and paths with quotes or line breaks", () => {
    expect(() => stateDirAclCommands("Tidemark")).toThrow(/not an absolute Windows path/);
    expect(() => stateDirAclCommands("C:relative\\to\\cwd")).toThrow(/not an absolute Windows path/);
    expect(() => stateDirAclCommands('C:\\a"b')).toThrow(/quotes or line breaks/);
    expect(() => stateDirAclCommands("C:\\a\nb")).toThrow(/quotes or line breaks/);
  });

  it("runs the commands in order; the first failure stops and names the folder and command", async () => {
    const ok = recorder();
    await restrictStateDir("C:\\ProgramData\\Tidemark", ok.exec);
    expect(ok.calls.map((c) => c.args[1])).toEqual(["/reset", "/setowner", "/inheritance:r"]);
    const bad = recorder((c) => (c.args[1] === "/setowner" ? "icacls.exe failed: Access is denied." : undefined));
    await expect(restrictStateDir("C:\\ProgramData\\Tidemark", bad.exec)).rejects.toThrow(/could not restrict C:\\ProgramData\\Tidemark to SYSTEM and Administrators \(icacls.exe \/setowner .*Access is denied/);
    expect(bad.calls).toHaveLength(2);
  });

  it("StateDir on win32 restricts the folder before machine.json is written, once per process; a refused ACL writes nothing", async () => {
    // The "Windows" folder is a local one here: the fake exec stands in for icacls.
    const dir = join(await tmp(), "state");
    const seen: string[][] = [];
    const ok = recorder((c) => {
      seen.push([c.args[1]!, ...readdirSyncSafe(dir)]);
      return undefined;
    });
    const st = new StateDir(dir, { platform: "win32", exec: ok.exec });
    await st.writeMachine(machine);
    await st.writeMachine(machine);
    expect(ok.calls.map((c) => [c.args[0], c.args[1]])).toEqual([
      [dir, "/reset"],
      [dir, "/setowner"],
      [dir, "/inheritance:r"],
    ]);
    // Every command ran before the key file existed.
    expect(seen.every((s) => !s.includes("machine.json"))).toBe(true);
    expect(JSON.parse(await readFile(join(dir, "machine.json"), "utf8")).machineId).toBe(machine.machineId);

    const dir2 = join(await tmp(), "state");
    const refused = new StateDir(dir2, { platform: "win32", exec: recorder(() => "icacls.exe failed: Access is denied.").exec });
    await expect(refused.writeMachine(machine)).rejects.toThrow(/could not restrict/);
    expect(await readdir(dir2)).toEqual([]);
    // secure() alone (what `run` calls) does the same, and nothing elsewhere.
    const again = recorder();
    await new StateDir(dir2, { platform: "win32", exec: again.exec }).secure();
    expect(again.calls).toHaveLength(3);
    const linux = recorder();
    await new StateDir(dir2, { platform: "linux", exec: linux.exec }).secure();
    expect(linux.calls).toEqual([]);
  });
});

describe("state directory modes on Linux (real files)", () => {
  it("a pre-made 0755 folder is tightened to 0700; machine.json, status.json and other files are 0600; no temp file is left", async () => {
    const dir = join(await tmp(), "state");
    await mkdir(dir, { mode: 0o755 });
    await chmod(dir, 0o755);
    const st = new StateDir(dir);
    await st.writeMachine(machine);
    await st.writeStatus({ pid: 1, updatedAt: new Date(0).toISOString(), state: "running", pendingUploads: 0, pendingBytes: 0 });
    await writePrivate(join(dir, "capture.json"), "{}");
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    for (const f of ["machine.json", "status.json", "capture.json"]) expect((await stat(join(dir, f))).mode & 0o777, f).toBe(0o600);
    expect((await readdir(dir)).sort()).toEqual(["capture.json", "machine.json", "status.json"]);
    // A damaged machine.json is a clear error, not a crash deeper in.
    await writePrivate(join(dir, "machine.json"), JSON.stringify({ ...machine, machineId: "nope" }));
    await expect(st.readMachine()).rejects.toThrow(/machine.json is damaged: machineId/);
  });
});

function readdirSyncSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
