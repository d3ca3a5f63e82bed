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
    const result = await this.health.check(this.readiness.all.map((c) => () => this.run(c)));
    // health.check throws (503) when one is down: here every dependency answered.
    this.readiness.noteAllPassed();
    return result;
  }

  /**
   * What balancers and orchestrators ask (the edge, the container healthcheck): 200 once the
   * instance has been ready (every dependency at once) and until it starts shutting down. A
   * dependency lost later does not take it out: every instance shares it, so taking them all out
   * would turn a partial outage (reads without Kafka, orders without PostgreSQL) into a total one,
   * and Swarm would restart healthy tasks in a loop. Requests needing the lost dependency get
   * 503 DEPENDENCY_UNAVAILABLE with Retry-After; /health/ready and service_dependency_up say which.
   */
  @Get('serving')
  async serving(): Promise<{ status: 'serving' }> {
    if (this.shutdown.isShuttingDown) throw new ServiceUnavailableException({ status: 'shutting_down' });
    if (!this.readiness.hasBeenReady && !(await this.readiness.runAll()))
      throw new ServiceUnavailableException({ status: 'starting' });
    return { status: 'serving' };
  }

  private async run(c: ReadinessCheck): Promise<HealthIndicatorResult> {
    const indicator = this.indicators.check(c.name);
    const error = await this.readiness.run(c);
    return error === null ? indicator.up() : indicator.down({ message: error });
  }
}
