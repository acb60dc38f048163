/** One attempt's result on one channel; `retryable` decides between backing off and giving up. */
export type Outcome = { ok: true; status?: number } | { ok: false; status?: number; error: string; retryable: boolean };

/** Network errors, 5xx and 429 are worth another try; other 4xx mean the request itself is wrong. */
export function httpOutcome(status: number, body: string): Outcome {
  if (status >= 200 && status < 300) return { ok: true, status };
  return { ok: false, status, error: `HTTP ${status}${body ? `: ${body.slice(0, 300)}` : ""}`, retryable: status === 429 || status >= 500 };
}

export function networkOutcome(err: unknown): Outcome {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  const reason = e?.name === "TimeoutError" ? "timed out" : (e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err));
  return { ok: false, error: `Network error: ${reason}`, retryable: true };
}

/** Several targets in one delivery: all must succeed; a retryable failure of any makes the whole retryable. */
export function combine(outcomes: Outcome[]): Outcome {
  const failed = outcomes.filter((o): o is Extract<Outcome, { ok: false }> => !o.ok);
  const last = outcomes.at(-1);
  if (failed.length === 0) return { ok: true, status: last?.status };
  return {
    ok: false,
    status: failed[0]!.status,
    error: failed.map((f) => f.error).join("; "),
    retryable: failed.some((f) => f.retryable),
  };
}
