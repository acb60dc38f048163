/**
 * Owner-only access to the state directory on Windows: POSIX modes mean
 * nothing to NTFS, and C:\ProgramData grants every local user read access
 * by inheritance. machine.json holds the customer's data key, so the folder
 * is limited to SYSTEM and Administrators, with inheritance cut, through
 * icacls. The commands are built here and unit-tested on Linux; they have not
 * run on a real Windows (see README).
 */
import { win32 } from "node:path";
import { execCommand, type Command, type Exec } from "./vss";

/** Well-known SIDs: names like "Administrators" are localised ("Administratoren"), SIDs are not. */
export const SID_SYSTEM = "*S-1-5-18";
export const SID_ADMINISTRATORS = "*S-1-5-32-544";

/**
 * In order: every entry below (and the folder) back to inherited ACLs only
 * (drops explicit grants someone added), owner Administrators, then the
 * folder's inherited ACEs removed and exactly SYSTEM + Administrators granted
 * full control, inherited by everything below (existing and future files).
 */
export function stateDirAclCommands(dir: string): Command[] {
  // A relative path would be resolved against the service's working directory (System32).
  if (!win32.isAbsolute(dir)) throw new Error(`not an absolute Windows path: ${JSON.stringify(dir)}`);
  // icacls takes the path as one argument (no shell): quotes inside would only confuse it.
  if (/["\r\n]/.test(dir)) throw new Error(`refusing a state directory path with quotes or line breaks: ${JSON.stringify(dir)}`);
  const d = dir.replace(/\\+$/, "") || dir;
  return [
    { file: "icacls.exe", args: [d, "/reset", "/T", "/C", "/Q"] },
    { file: "icacls.exe", args: [d, "/setowner", SID_ADMINISTRATORS, "/T", "/C", "/Q"] },
    { file: "icacls.exe", args: [d, "/inheritance:r", "/grant:r", `${SID_SYSTEM}:(OI)(CI)F`, `${SID_ADMINISTRATORS}:(OI)(CI)F`, "/Q"] },
  ];
}

/** Runs the commands in order; the first failure stops and is thrown with the folder named. */
export async function restrictStateDir(dir: string, exec: Exec = execCommand, timeoutMs = 60_000): Promise<void> {
  for (const cmd of stateDirAclCommands(dir)) {
    try {
      await exec(cmd, timeoutMs);
    } catch (e) {
      throw new Error(`could not restrict ${dir} to SYSTEM and Administrators (${cmd.file} ${cmd.args.slice(1).join(" ")}): ${(e as Error).message}`);
    }
  }
}
