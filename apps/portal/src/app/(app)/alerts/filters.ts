/** The centre's filters; they live in the URL so a link in an email lands on the same view. */
export type AlertFilterValues = { customerId?: string; machineId?: string; severity?: string; state?: string; condition?: string };
export const filterKeys = ["customerId", "machineId", "severity", "state", "condition"] as const;

export function filtersFromParams(params: URLSearchParams | Record<string, string | string[] | undefined>): AlertFilterValues {
  const get = (k: string) => {
    const v = params instanceof URLSearchParams ? params.get(k) : params[k];
    return (Array.isArray(v) ? v[0] : v) || undefined;
  };
  const f: AlertFilterValues = {};
  for (const k of filterKeys) {
    const v = get(k);
    if (v) f[k] = v;
  }
  return f;
}
