import { Controller, Get, Inject, ServiceUnavailableException } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  type HealthIndicatorResult,
} from '@nestjs/terminus';
import { MetricsRegistry } from '@trading/metrics';
import { READINESS_CHECKS, type ReadinessCheck } from './readiness';
import { ShutdownState } from './shutdown-state';

async function withTimeout(promise: Promise<void>, ms: number, name: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${name} check timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

@ApiExcludeController()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly shutdown: ShutdownState,
    private readonly metrics: MetricsRegistry,
    @Inject(READINESS_CHECKS) private readonly checks: ReadinessCheck[],
  ) {}

  /** The process is alive and its event loop turns; no dependency is consulted. */
  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Every dependency answered within its own timeout and the process is not shutting down. */
  @Get('ready')
  @HealthCheck()
  async ready() {
    if (this.shutdown.isShuttingDown) throw new ServiceUnavailableException({ status: 'shutting_down' });
    return this.health.check(this.checks.map((c) => () => this.run(c)));
  }

  private async run(c: ReadinessCheck): Promise<HealthIndicatorResult> {
    const indicator = this.indicators.check(c.name);
    try {
      await withTimeout(c.check(), c.timeoutMs, c.name);
      this.metrics.ready.set({ dependency: c.name }, 1);
      return indicator.up();
    } catch (err) {
      this.metrics.ready.set({ dependency: c.name }, 0);
      return indicator.down({ message: err instanceof Error ? err.message : String(err) });
    }
  }
}
