import type { MetricsRegistry } from '@trading/metrics';
import { HealthController } from './health.controller';
import type { ReadinessCheck } from './readiness';
import { ReadinessService } from './readiness.service';
import { ShutdownState } from './shutdown-state';

describe('GET /health/serving (what the edge and the container healthcheck ask)', () => {
  let kafkaUp: boolean;
  let shutdown: ShutdownState;
  let controller: HealthController;

  beforeEach(() => {
    kafkaUp = false;
    const checks: ReadinessCheck[] = [
      {
        name: 'kafka',
        timeoutMs: 100,
        check: async () => {
          if (!kafkaUp) throw new Error('no broker');
        },
      },
    ];
    const metrics = { ready: { set: () => undefined } } as unknown as MetricsRegistry;
    shutdown = new ShutdownState();
    const readiness = new ReadinessService(metrics, checks);
    // Terminus is only used by /health/ready.
    controller = new HealthController(undefined as never, undefined as never, shutdown, readiness);
  });

  const status = async () =>
    controller.serving().then(
      () => 200,
      (err: { getStatus(): number; getResponse(): { status: string } }) =>
        `${err.getStatus()} ${err.getResponse().status}`,
    );

  it('is 503 starting until every dependency has answered once', async () => {
    expect(await status()).toBe('503 starting');
    kafkaUp = true;
    expect(await status()).toBe(200);
  });

  it('stays 200 when a shared dependency is lost after that (requests get 503 DEPENDENCY_UNAVAILABLE)', async () => {
    kafkaUp = true;
    expect(await status()).toBe(200);
    kafkaUp = false;
    expect(await status()).toBe(200);
  });

  it('is 503 shutting_down as soon as the drain starts', async () => {
    kafkaUp = true;
    expect(await status()).toBe(200);
    shutdown.markStopping();
    expect(await status()).toBe('503 shutting_down');
  });
});
