import { MetricsRegistry } from './metrics-registry';

describe('MetricsRegistry', () => {
  it('exposes default Node metrics and the HTTP histogram labelled by service', async () => {
    const m = new MetricsRegistry('test-svc', '0');
    m.observeHttp('GET', '/health/ready', 200, 0.002);
    const text = await m.render();
    expect(text).toContain('nodejs_eventloop_lag_seconds');
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toMatch(
      /http_server_request_duration_seconds_bucket\{le="0.0025",service="test-svc",instance_id="0",method="GET",route="\/health\/ready",status_code="200"\} 1/,
    );
  });

  it('returns the same metric when asked twice for one name', () => {
    const m = new MetricsRegistry('svc', '0');
    expect(m.counter('x_total', 'x')).toBe(m.counter('x_total', 'x'));
  });
});
