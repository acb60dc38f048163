/**
 * GFS retention, restic semantics: points are grouped by host + paths; in
 * each group a point is kept if any rule keeps it. keep-within is measured
 * from the group's newest point (not the clock) so a machine that stopped
 * backing up does not silently lose its history. Buckets use UTC.
 */
export interface RetentionPolicy {
  last?: number;
  /** Milliseconds. */
  within?: number;
  hourly?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
}

export interface PointInfo {
  id: string;
  time: string;
  host: string;
  paths: string[];
}

export interface RetentionDecision {
  keep: Array<{ id: string; reasons: string[] }>;
  remove: string[];
}

export function isEmptyPolicy(p: RetentionPolicy): boolean {
  return Object.values(p).every((v) => v === undefined || v === 0);
}

/** "30d", "12h", "2w", "1y6m", "90m"? — m means months here, like restic; minutes are not supported. */
export function parseDuration(s: string): number {
  const m = /^(?:(\d+)y)?(?:(\d+)m)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?$/.exec(s.trim());
  if (!m || s.trim() === "") throw new Error(`not a duration: ${JSON.stringify(s)} (use e.g. 1y2m3w4d5h)`);
  const [, y, mo, w, d, h] = m.map((x) => Number(x ?? 0));
  const H = 3600_000;
  return (y! * 365 * 24 + mo! * 30 * 24 + w! * 7 * 24 + d! * 24 + h!) * H;
}

const isoWeek = (d: Date): string => {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const year = t.getUTCFullYear();
  const week = Math.ceil(((t.getTime() - Date.UTC(year, 0, 1)) / 86400_000 + 1) / 7);
  return `${year}-W${week}`;
};

const BUCKETS: Array<[keyof RetentionPolicy, (d: Date) => string]> = [
  ["hourly", (d) => d.toISOString().slice(0, 13)],
  ["daily", (d) => d.toISOString().slice(0, 10)],
  ["weekly", isoWeek],
  ["monthly", (d) => d.toISOString().slice(0, 7)],
  ["yearly", (d) => d.toISOString().slice(0, 4)],
];

export function applyRetention(points: PointInfo[], policy: RetentionPolicy): RetentionDecision {
  if (isEmptyPolicy(policy)) throw new Error("refusing to forget with no --keep-… rule (it would remove every point)");
  const groups = new Map<string, PointInfo[]>();
  for (const p of points) {
    const k = JSON.stringify([p.host, [...p.paths].sort()]);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(p);
  }
  const decision: RetentionDecision = { keep: [], remove: [] };
  for (const g of groups.values()) {
    g.sort((a, b) => b.time.localeCompare(a.time) || b.id.localeCompare(a.id)); // newest first
    const reasons = new Map<string, string[]>();
    const keep = (id: string, why: string) => {
      const r = reasons.get(id) ?? [];
      r.push(why);
      reasons.set(id, r);
    };
    g.slice(0, policy.last ?? 0).forEach((p) => keep(p.id, "last"));
    if (policy.within) {
      const newest = Date.parse(g[0]!.time);
      for (const p of g) if (newest - Date.parse(p.time) <= policy.within) keep(p.id, "within");
    }
    for (const [rule, bucket] of BUCKETS) {
      const n = policy[rule] ?? 0;
      if (!n) continue;
      const seen = new Set<string>();
      for (const p of g) {
        if (seen.size >= n) break;
        const b = bucket(new Date(p.time));
        if (seen.has(b)) continue;
        seen.add(b);
        keep(p.id, rule);
      }
    }
    for (const p of g) {
      const r = reasons.get(p.id);
      if (r) decision.keep.push({ id: p.id, reasons: r });
      else decision.remove.push(p.id);
    }
  }
  return decision;
}
