import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { HTTP_DURATION_BUCKETS_SECONDS } from './buckets';

/**
 * One registry per process. Default Node metrics (event loop lag, GC, heap) are collected with
 * the `service` label so every series says where it came from.
 */
export class MetricsRegistry {
  readonly registry = new Registry();
  readonly httpRequestDuration: Histogram<'method' | 'route' | 'status_code'>;
  readonly httpRequests: Counter<'method' | 'route' | 'status_code'>;
  readonly ready: Gauge<'dependency'>;

  constructor(
    readonly service: string,
    instance: string,
  ) {
    // `instance` is Prometheus's own target label; ours is the replica id.
    this.registry.setDefaultLabels({ service, instance_id: instance });
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
    this.httpRequestDuration = new Histogram({
      name: 'http_server_request_duration_seconds',
      help: 'HTTP request duration by route template and status code',
      labelNames: ['method', 'route', 'status_code'],
      buckets: HTTP_DURATION_BUCKETS_SECONDS,
      registers: [this.registry],
    });
    this.httpRequests = new Counter({
      name: 'http_server_requests_total',
      help: 'HTTP requests by route template and status code',
      labelNames: ['method', 'route', 'status_code'],
      registers: [this.registry],
    });
    this.ready = new Gauge({
      name: 'service_dependency_up',
      help: '1 when the last readiness check of the dependency passed',
      labelNames: ['dependency'],
      registers: [this.registry],
    });
  }

  /** Records one HTTP request; `route` must be the template (bounded), never the raw URL. */
  observeHttp(method: string, route: string, statusCode: number, seconds: number): void {
    const labels = { method, route, status_code: String(statusCode) };
    this.httpRequestDuration.observe(labels, seconds);
    this.httpRequests.inc(labels);
  }

  counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return this.existing(name) ?? new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  gauge<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
    return this.existing(name) ?? new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  histogram<L extends string>(
    name: string,
    help: string,
    buckets: number[],
    labelNames: readonly L[] = [],
  ): Histogram<L> {
    return (
      this.existing(name) ?? new Histogram({ name, help, labelNames, buckets, registers: [this.registry] })
    );
  }

  async render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private existing<T>(name: string): T | undefined {
    return this.registry.getSingleMetric(name) as T | undefined;
  }
}
