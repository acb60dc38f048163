import { describe, expect, it } from "vitest";
import { createShadowCommand, deleteShadowCommand, normalizeVolume, parseCreateOutput, shadowPath, withShadow, type Command } from "../src/vss";

const ID = "{5A9C1C4B-0F9E-4E0B-9C55-2B7C1A2E3D4F}";
const DEVICE = "\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy12";

describe("VSS adapter (commands built and output parsed; never run here)", () => {
  it("normalizes volumes and refuses anything else", () => {
    expect(normalizeVolume("c:")).toBe("C:\\");
    expect(normalizeVolume("D:\\")).toBe("D:\\");
    for (const bad of ["", "C", "C:\\Windows", "\\\\server\\share", "C:'; rm"]) expect(() => normalizeVolume(bad)).toThrow(/not a drive volume/);
  });

  it("create: powershell, no profile, WMI Create on the quoted volume, key=value output", () => {
    const c = createShadowCommand("c:");
    expect(c.file).toBe("powershell.exe");
    expect(c.args.slice(0, 5)).toEqual(["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-Command"]);
    const script = c.args[5]!;
    expect(script).toContain("(Get-WmiObject -List Win32_ShadowCopy).Create('C:\\', 'ClientAccessible')");
    expect(script).toContain("'ID=' + $s.ID");
    expect(script).toContain("'DEVICE=' + $s.DeviceObject");
    expect(script).toContain("exit 2");
  });

  it("delete: only a well-formed shadow id gets into the script", () => {
    expect(deleteShadowCommand(ID).args.at(-1)).toContain(`$_.ID -eq '${ID}'`);
    expect(() => deleteShadowCommand("{x}'; Remove-Item C:\\ -Recurse; '")).toThrow(/not a shadow copy id/);
  });

  it("parses the id and device path (CRLF, noise lines)", () => {
    expect(parseCreateOutput(`WARNING: something\r\nID=${ID}\r\nDEVICE=${DEVICE}\r\n`)).toEqual({ id: ID, device: DEVICE });
  });

  it("maps WMI error codes to a reason; refuses output without id or device", () => {
    expect(() => parseCreateOutput("ERROR=1\r\n")).toThrow(/access denied/);
    expect(() => parseCreateOutput("ERROR=8")).toThrow(/maximum number/);
    expect(() => parseCreateOutput("ERROR=99")).toThrow(/WMI return code 99/);
    expect(() => parseCreateOutput(`DEVICE=${DEVICE}`)).toThrow(/no shadow id/);
    expect(() => parseCreateOutput(`ID=${ID}\nDEVICE=C:\\`)).toThrow(/device path/);
  });

  it("maps a live path into the shadow", () => {
    expect(shadowPath({ id: ID, device: DEVICE }, "C:", "C:\\Users\\a\\doc.txt")).toBe(`${DEVICE}\\Users\\a\\doc.txt`);
    expect(() => shadowPath({ id: ID, device: DEVICE }, "C:", "D:\\x")).toThrow(/not on C:/);
  });

  it("withShadow deletes the shadow even when the work fails", async () => {
    const calls: Command[] = [];
    const exec = async (c: Command) => {
      calls.push(c);
      return { stdout: c.args.at(-1)!.includes("Create(") ? `ID=${ID}\nDEVICE=${DEVICE}\n` : "DELETED\n" };
    };
    await expect(withShadow("C:", async () => { throw new Error("read failed"); }, exec)).rejects.toThrow("read failed");
    expect(calls).toHaveLength(2);
    expect(calls[1]!.args.at(-1)).toContain(ID);
    expect(await withShadow("C:", async (s) => s.device, exec)).toBe(DEVICE);
  });
});
