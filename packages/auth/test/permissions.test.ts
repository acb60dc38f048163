import { describe, expect, it } from "vitest";
import { can, canGrant, permissions, rolePermissions } from "../src/permissions";

describe("permissions", () => {
  it("every role's permissions are known strings", () => {
    for (const list of Object.values(rolePermissions)) for (const p of list) expect(permissions).toContain(p);
  });

  it("read_only reads everything and changes nothing", () => {
    for (const p of permissions) {
      const isRead = p.endsWith(".read");
      expect(can("read_only", p), p).toBe(isRead);
    }
  });

  it("technicians enroll machines and request restores but do not manage policies or people", () => {
    expect(can("technician", "machines.enroll")).toBe(true);
    expect(can("technician", "restores.request")).toBe(true);
    expect(can("technician", "policies.write")).toBe(false);
    expect(can("technician", "members.invite")).toBe(false);
  });

  it("only owners manage the MSP; customer users cannot invite or enroll", () => {
    expect(permissions.filter((p) => can("owner", p))).toEqual([...permissions]);
    expect(can("admin", "msp.manage")).toBe(false);
    expect(can("customer_user", "members.invite")).toBe(false);
    expect(can("customer_user", "machines.enroll")).toBe(false);
    expect(can("customer_admin", "members.invite")).toBe(true);
    expect(can("customer_admin", "policies.write")).toBe(false);
  });

  it("nobody grants a role above their own", () => {
    expect(canGrant("owner", "owner")).toBe(true);
    expect(canGrant("admin", "owner")).toBe(false);
    expect(canGrant("admin", "admin")).toBe(true);
    expect(canGrant("admin", "customer_admin")).toBe(true);
    expect(canGrant("customer_admin", "customer_user")).toBe(true);
    expect(canGrant("customer_admin", "technician")).toBe(false);
    expect(canGrant("customer_user", "customer_admin")).toBe(false);
  });
});
