import type { Gauge } from 'prom-client';
import type { MetricsRegistry } from './metrics-registry';

/** One row of PgBouncer's `SHOW POOLS` (admin console); numbers may arrive as strings. */
export interface PgBouncerPoolRow {
  database: string;
  user: string;
  cl_active: number | string;
  cl_waiting: number | string;
  sv_active: number | string;
  sv_idle: number | string;
  maxwait: number | string;
  maxwait_us?: number | string;
}

/**
 * Exports PgBouncer pool waits from its admin console at scrape time (the Debian exporter does
 * not work with PgBouncer 1.18). `showPools` runs `SHOW POOLS` on a connection to the
 * `pgbouncer` database (simple query protocol); wire it in exactly one service per PgBouncer.
 */
export class PgBouncerPoolsCollector {
  private readonly waiting: Gauge<'database' | 'user'>;
  private readonly maxWait: Gauge<'database' | 'user'>;
  private readonly clientsActive: Gauge<'database' | 'user'>;
  private readonly serversActive: Gauge<'database' | 'user'>;
  private readonly serversIdle: Gauge<'database' | 'user'>;
  private readonly up: Gauge;

  constructor(
    metrics: MetricsRegistry,
    private readonly showPools: () => Promise<PgBouncerPoolRow[]>,
  ) {
    const labels = ['database', 'user'] as const;
    this.waiting = metrics.gauge(
      'pgbouncer_pool_client_waiting_connections',
      'Clients waiting for a server connection',
      labels,
    );
    this.maxWait = metrics.gauge(
      'pgbouncer_pool_client_maxwait_seconds',
      'Age of the oldest waiting client',
      labels,
    );
    this.clientsActive = metrics.gauge(
      'pgbouncer_pool_client_active_connections',
      'Clients linked to a server connection',
      labels,
    );
    this.serversActive = metrics.gauge(
      'pgbouncer_pool_server_active_connections',
      'Server connections in use',
      labels,
    );
    this.serversIdle = metrics.gauge(
      'pgbouncer_pool_server_idle_connections',
      'Server connections idle',
      labels,
    );
    this.up = metrics.gauge('pgbouncer_admin_up', '1 when the last SHOW POOLS succeeded');
  }

  /** Refreshes the gauges; call from the /metrics handler or on an interval. Never throws. */
  async collect(): Promise<void> {
    try {
      const rows = await this.showPools();
      for (const r of rows) {
        const l = { database: r.database, user: r.user };
        this.waiting.set(l, Number(r.cl_waiting));
        this.maxWait.set(l, Number(r.maxwait) + Number(r.maxwait_us ?? 0) / 1e6);
        this.clientsActive.set(l, Number(r.cl_active));
        this.serversActive.set(l, Number(r.sv_active));
        this.serversIdle.set(l, Number(r.sv_idle));
      }
      this.up.set(1);
    } catch {
      this.up.set(0);
    }
  }
}
