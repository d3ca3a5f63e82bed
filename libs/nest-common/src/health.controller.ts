import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  type HealthIndicatorResult,
} from '@nestjs/terminus';
import type { ReadinessCheck } from './readiness';
import { ReadinessService } from './readiness.service';
import { ShutdownState } from './shutdown-state';

@ApiExcludeController()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly shutdown: ShutdownState,
    private readonly readiness: ReadinessService,
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
    return this.health.check(this.readiness.all.map((c) => () => this.run(c)));
  }

  private async run(c: ReadinessCheck): Promise<HealthIndicatorResult> {
    const indicator = this.indicators.check(c.name);
    const error = await this.readiness.run(c);
    return error === null ? indicator.up() : indicator.down({ message: error });
  }
}
