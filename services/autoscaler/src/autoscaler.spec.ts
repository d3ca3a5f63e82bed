import { Registry } from 'prom-client';
import { Autoscaler, type Logger } from './autoscaler';
import { loadAutoscalerConfig } from './config';
import type { ReplicaControl, ServiceView } from './docker-engine';
import { PrometheusError } from './prometheus';

function harness(values: Record<string, number | null> | 'down', mode = 'on', updateState = '') {
  const config = loadAutoscalerConfig({
    AUTOSCALER_STACK: 'trading',
    AUTOSCALER_MODE: mode,
    AUTOSCALER_SERVICES: JSON.stringify({
      'api-gateway': { min: 2, max: 4, signals: [{ metric: 'cpu', up: 0.7, down: 0.3 }] },
    }),
  });
  const replicas: Record<string, number> = { 'trading_api-gateway': 2 };
  const scaled: [string, number][] = [];
  const docker: ReplicaControl = {
    inspect: (name) =>
      Promise.resolve({
        id: name,
        version: 1,
        replicas: replicas[name],
        updateState,
        spec: { Name: name },
      } as ServiceView),
    scale: (view, n) => {
      scaled.push([view.id, n]);
      replicas[view.id] = n;
      return Promise.resolve();
    },
  };
  const logs: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  const log = Object.fromEntries(
    ['info', 'warn', 'error', 'debug'].map((level) => [
      level,
      (obj: Record<string, unknown>, msg: string) => logs.push({ level, obj, msg }),
    ]),
  ) as unknown as Logger;
  const registry = new Registry();
  const query = (q: string) =>
    values === 'down'
      ? Promise.reject(new PrometheusError('Prometheus unreachable at http://prometheus:9090: ECONNREFUSED'))
      : Promise.resolve(values[q.includes('process_cpu') ? 'cpu' : q] ?? null);
  const autoscaler = new Autoscaler(config, query, docker, log, registry, () => 1_000_000);
  return { autoscaler, scaled, logs, registry };
}

const metric = async (registry: Registry, name: string) =>
  (await registry.getSingleMetric(name)?.get())?.values.map((v) => [v.labels, v.value]);

describe('autoscaler tick', () => {
  it('scales through the Docker API, logs why and exports the decision', async () => {
    const { autoscaler, scaled, logs, registry } = harness({ cpu: 0.95 });
    await autoscaler.tick();
    expect(scaled).toEqual([['trading_api-gateway', 3]]);
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 'info',
        obj: expect.objectContaining({
          event: 'autoscaler_decision',
          service: 'api-gateway',
          direction: 'up',
          from: 2,
          to: 3,
          reason: 'signal_above',
          metric: 'cpu',
          value: 0.95,
          threshold: 0.7,
          applied: true,
        }),
      }),
    );
    expect(await metric(registry, 'autoscaler_decisions_total')).toEqual([
      [{ service: 'api-gateway', direction: 'up' }, 1],
    ]);
    expect(await metric(registry, 'autoscaler_desired_replicas')).toEqual([[{ service: 'api-gateway' }, 3]]);
  });

  it('changes nothing when Prometheus is unreachable: logged, counted', async () => {
    const { autoscaler, scaled, logs, registry } = harness('down');
    await autoscaler.tick();
    expect(scaled).toEqual([]);
    expect(logs.map((l) => l.obj.event)).toEqual(['prometheus_unavailable', 'autoscaler_decision']);
    expect(logs[1].obj).toEqual(
      expect.objectContaining({ direction: 'hold', reason: 'prometheus_unavailable' }),
    );
    expect(await metric(registry, 'autoscaler_prometheus_errors_total')).toEqual([[{}, 1]]);
    expect(await metric(registry, 'autoscaler_prometheus_up')).toEqual([[{}, 0]]);
  });

  it('in dry-run decides, logs and exports, but never calls the Docker API to scale', async () => {
    const { autoscaler, scaled, logs } = harness({ cpu: 0.95 }, 'dry-run');
    await autoscaler.tick();
    expect(scaled).toEqual([]);
    expect(logs[0].obj).toEqual(
      expect.objectContaining({ direction: 'up', applied: false, mode: 'dry-run' }),
    );
  });

  it('defers a change while the service is rolling out', async () => {
    const { autoscaler, scaled, logs } = harness({ cpu: 0.95 }, 'on', 'updating');
    await autoscaler.tick();
    expect(scaled).toEqual([]);
    expect(logs[0].obj).toEqual(
      expect.objectContaining({ event: 'scale_deferred', updateState: 'updating' }),
    );
  });
});
