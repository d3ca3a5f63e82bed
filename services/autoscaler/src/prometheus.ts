// Prometheus' HTTP API, instant queries (GET /api/v1/query). A scalar answer, the first sample
// of a vector, or null for an empty vector (no series: no traffic, no target).
export class PrometheusError extends Error {}

export type QueryFn = (query: string) => Promise<number | null>;

export function prometheusQuery(baseUrl: string, timeoutMs = 5_000): QueryFn {
  return async (query) => {
    let res: Response;
    try {
      res = await fetch(`${baseUrl}/api/v1/query?query=${encodeURIComponent(query)}`, {
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new PrometheusError(`Prometheus unreachable at ${baseUrl}: ${(err as Error).message}`);
    }
    const body = (await res.json().catch(() => ({}))) as {
      status?: string;
      error?: string;
      data?: { resultType: string; result: unknown };
    };
    if (!res.ok || body.status !== 'success' || !body.data)
      throw new PrometheusError(`Prometheus answered ${res.status} to ${query}: ${body.error ?? 'no data'}`);
    const { resultType, result } = body.data;
    if (resultType === 'scalar') return Number((result as [number, string])[1]);
    if (resultType === 'vector') {
      const first = (result as { value: [number, string] }[])[0];
      if (!first) return null;
      const v = Number(first.value[1]);
      return Number.isFinite(v) ? v : null;
    }
    throw new PrometheusError(`unexpected ${resultType} answer to ${query}`);
  };
}
