import { describe, expect, it } from "vitest";
import { authFieldErrors, authMessage, safeNext } from "../src/lib/auth-errors";
import { errorMessage, fieldErrors } from "../src/lib/errors";
import { allowed, roleFor } from "../src/server/roles";

describe("safeNext", () => {
  it("follows same-site paths only", () => {
    expect(safeNext("/customers/1")).toBe("/customers/1");
    expect(safeNext("//evil.example/x")).toBe("/");
    expect(safeNext("https://evil.example")).toBe("/");
    expect(safeNext(undefined)).toBe("/");
  });
});

describe("auth errors", () => {
  it("puts a field's error beside the field and not twice", () => {
    const e = { code: "PASSWORD_TOO_SHORT", message: "Password too short", status: 400 };
    expect(authFieldErrors(e)).toEqual({ password: "Password too short" });
    expect(authMessage(e)).toBeNull();
  });
  it("keeps the wrong-credentials message at form level", () => {
    const e = { code: "INVALID_EMAIL_OR_PASSWORD", message: "Invalid email or password", status: 401 };
    expect(authFieldErrors(e)).toEqual({});
    expect(authMessage(e)).toBe("Invalid email or password");
  });
  it("explains rate limiting", () => {
    expect(authMessage({ status: 429, message: "" })).toMatch(/Too many attempts/);
  });
});

describe("tRPC errors", () => {
  it("reads per-field zod errors", () => {
    const err = { message: "bad", data: { code: "BAD_REQUEST", zodError: { fieldErrors: { name: ["Name is required"], other: [] }, formErrors: [] } } };
    expect(fieldErrors(err)).toEqual({ name: "Name is required" });
    expect(errorMessage(err)).toBe("Please correct the highlighted fields.");
  });
  it("passes other messages through", () => {
    expect(errorMessage({ message: "Customer not found", data: { code: "NOT_FOUND" } })).toBe("Customer not found");
    expect(errorMessage(null)).toBeNull();
  });
});

describe("roleFor", () => {
  const memberships = [
    { kind: "msp" as const, mspId: "m1", role: "technician" },
    { kind: "customer" as const, mspId: "m2", customerId: "c2", role: "customer_user" },
  ];
  it("lets an MSP membership cover its customers and nothing else", () => {
    expect(roleFor(memberships, { mspId: "m1", customerId: "any" })).toBe("technician");
    expect(roleFor(memberships, { mspId: "m2", customerId: "c2" })).toBe("customer_user");
    expect(roleFor(memberships, { mspId: "m2", customerId: "c3" })).toBeNull();
    expect(roleFor(memberships, { mspId: "m3" })).toBeNull();
  });
  it("hides controls the role lacks", () => {
    expect(allowed("technician", "machines.enroll")).toBe(true);
    expect(allowed("customer_user", "machines.enroll")).toBe(false);
    expect(allowed(null, "customers.read")).toBe(false);
  });
});
