import { describe, expect, it } from "vitest";
import { filtersFromParams } from "../src/app/(app)/alerts/filters";
import { formatDuration } from "../src/components/durations";

describe("alert centre helpers", () => {
  it("reads only the known filters from the URL, ignoring empty ones", () => {
    expect(filtersFromParams(new URLSearchParams("severity=critical&state=&customerId=c1&evil=1&alert=a1"))).toEqual({ severity: "critical", customerId: "c1" });
    expect(filtersFromParams({ machineId: ["m1", "m2"], state: undefined })).toEqual({ machineId: "m1" });
    expect(filtersFromParams({})).toEqual({});
  });

  it("durations read naturally", () => {
    expect(formatDuration(null)).toBe("—");
    expect(formatDuration(850)).toBe("850 ms");
    expect(formatDuration(12_340)).toBe("12.3 s");
    expect(formatDuration(600_000)).toBe("10 min");
  });
});
