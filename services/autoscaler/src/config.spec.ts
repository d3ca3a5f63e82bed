import { ConfigError, loadAutoscalerConfig } from './config';

const services = {
  'api-gateway': { min: 2, max: 4, signals: [{ metric: 'cpu', up: 0.7, down: 0.3 }] },
  'matching-worker': {
    min: 3,
    max: 20,
    cooldownSeconds: 120,
    signals: [
      { metric: 'consumer_lag', up: 5000, down: 100 },
      { metric: 'query', name: 'queue', query: 'sum(x{job="$service"}[$window])', up: 2, down: 1 },
    ],
  },
};
const env = (over: Record<string, string | undefined> = {}) => ({
  AUTOSCALER_SERVICES: JSON.stringify(services),
  AUTOSCALER_STACK: 'trading',
  ...over,
});
const fails = (over: Record<string, string | undefined>) => () => loadAutoscalerConfig(env(over));

describe('autoscaler configuration', () => {
  it('reads the policies with their defaults and the queries of the built-in signals', () => {
    const c = loadAutoscalerConfig(env({ AUTOSCALER_WINDOW: '30s', KAFKA_PARTITIONS: '6' }));
    expect(c).toEqual(
      expect.objectContaining({ mode: 'on', stack: 'trading', intervalSeconds: 15, partitions: 6 }),
    );
    const [gw, mw] = c.services;
    expect(gw.policy).toEqual({
      min: 2,
      max: 4,
      step: 1,
      cooldownSeconds: 300,
      upCooldownSeconds: 60,
      capAtPartitions: false,
      signals: [{ name: 'cpu', up: 0.7, down: 0.3 }],
    });
    expect(gw.queries.cpu).toBe('avg(rate(process_cpu_seconds_total{job="api-gateway"}[30s]))');
    // Matching workers are capped at the partition count unless told otherwise.
    expect(mw.policy.capAtPartitions).toBe(true);
    expect(mw.queries.consumer_lag).toContain('kafka_consumer_lag_records{job="matching-worker"}');
    expect(mw.queries.queue).toBe('sum(x{job="matching-worker"}[30s])');
  });

  it.each([
    [{ AUTOSCALER_SERVICES: undefined }, /AUTOSCALER_SERVICES/],
    [{ AUTOSCALER_SERVICES: '{' }, /not JSON/],
    [{ AUTOSCALER_SERVICES: '{}' }, /no service to scale/],
    [{ AUTOSCALER_MODE: 'maybe' }, /AUTOSCALER_MODE/],
    [{ AUTOSCALER_WINDOW: '1 minute' }, /AUTOSCALER_WINDOW: a Prometheus duration/],
    [{ AUTOSCALER_STACK: '' }, /AUTOSCALER_STACK/],
  ])('refuses %j with a clear error', (over, message) => {
    expect(fails(over)).toThrow(ConfigError);
    expect(fails(over)).toThrow(message);
  });

  it.each([
    [
      { min: 3, max: 2, signals: [{ metric: 'cpu', up: 1, down: 0.5 }] },
      /api-gateway: min must not exceed max/,
    ],
    [{ min: 0, max: 2, signals: [{ metric: 'cpu', up: 1, down: 0.5 }] }, /api-gateway\.min/],
    [{ min: 1, max: 2, step: 0, signals: [{ metric: 'cpu', up: 1, down: 0.5 }] }, /api-gateway\.step/],
    [
      { min: 1, max: 2, signals: [{ metric: 'cpu', up: 0.5, down: 0.5 }] },
      /down must be below up \(hysteresis\)/,
    ],
    [{ min: 1, max: 2, signals: [] }, /api-gateway\.signals/],
    [{ min: 1, max: 2, signals: [{ metric: 'memory', up: 1, down: 0 }] }, /signals\.0\.metric/],
    [
      { min: 1, max: 2, signals: [{ metric: 'query', up: 1, down: 0 }] },
      /query is given with metric "query"/,
    ],
    [{ min: 1, max: 2, cooldown: 5, signals: [{ metric: 'cpu', up: 1, down: 0 }] }, /cooldown/],
  ])('refuses the policy %j, naming the field', (policy, message) => {
    expect(fails({ AUTOSCALER_SERVICES: JSON.stringify({ 'api-gateway': policy }) })).toThrow(message);
  });

  it('refuses matching workers whose minimum exceeds the partition count', () => {
    expect(fails({ KAFKA_PARTITIONS: '2' })).toThrow(/matching-worker: min 3 is above the partition count 2/);
  });
});
