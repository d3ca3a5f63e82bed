import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ALERTMANAGER_URL,
  containers,
  converged,
  docker,
  dockerWithInput,
  PROMETHEUS_URL,
  ROOT,
  service,
  STACK,
  until,
} from '../testing/swarm';

// One alert end to end on the deployed overlay, the way an operator wires paging: the receivers of
// monitoring/alertmanager/alertmanager.yml get a webhook (a new Swarm config, rolled onto the
// Alertmanager service), a fault makes a rule fire in Prometheus, Alertmanager routes it by
// severity, and the webhook receiver this test runs (a service on the monitoring network) gets it.
// The fault is a hung exporter (`docker pause`): its task stays, so its target stays in service
// discovery and the scrape fails, which is what ServiceDown (`up == 0` for 1 m) is for.
const run = randomUUID().slice(0, 8);
const sink = `${STACK}-alert-sink`;
const port = 9099;
const log = (msg: string) => process.stdout.write(`[swarm alerts] ${msg}\n`);

interface Delivery {
  receiver: string;
  status: string;
  alerts: { status: string; labels: Record<string, string> }[];
}

/** What the receiver got: one JSON body per line of its log after `WEBHOOK `. */
function deliveries(): Delivery[] {
  return docker('service', 'logs', '--raw', sink)
    .split('\n')
    .filter((l) => l.startsWith('WEBHOOK '))
    .map((l) => JSON.parse(l.slice('WEBHOOK '.length)) as Delivery);
}

async function prometheusAlerts(): Promise<{ labels: Record<string, string>; state: string }[]> {
  const res = await fetch(`${PROMETHEUS_URL}/api/v1/alerts`);
  return ((await res.json()) as { data: { alerts: { labels: Record<string, string>; state: string }[] } })
    .data.alerts;
}

describe('an alert end to end on the Swarm stack', () => {
  jest.setTimeout(480_000);
  const alertmanager = service('alertmanager');
  const webhookConfig = `alertmanager_webhook_${run}`;
  let paused: string | undefined;

  beforeAll(async () => {
    // The receiver: any image with node will do; the gateway's is on the node already.
    const image = docker(
      'service',
      'inspect',
      '--format',
      '{{.Spec.TaskTemplate.ContainerSpec.Image}}',
      service('api-gateway'),
    );
    const receiver = `require('http').createServer((q, s) => { let b = ''; q.on('data', (c) => (b += c)); q.on('end', () => { process.stdout.write('WEBHOOK ' + b.replace(/\\n/g, ' ') + '\\n'); s.end('ok'); }); }).listen(${port})`;
    docker(
      'service',
      'create',
      '--detach',
      '--name',
      sink,
      // Removed with the stack should the test die before its cleanup.
      '--label',
      `com.docker.stack.namespace=${STACK}`,
      '--network',
      `${STACK}_monitoring`,
      '--endpoint-mode',
      'dnsrr',
      '--no-healthcheck',
      image,
      'node',
      '-e',
      receiver,
    );
    await until(
      'the webhook receiver runs',
      () =>
        docker(
          'service',
          'ps',
          '--filter',
          'desired-state=running',
          '--format',
          '{{.CurrentState}}',
          sink,
        ).startsWith('Running')
          ? true
          : undefined,
      120_000,
      1_000,
    );

    // The operator's change: the routed receivers get a webhook; a new config, rolled out.
    const current = docker(
      'service',
      'inspect',
      '--format',
      '{{range .Spec.TaskTemplate.ContainerSpec.Configs}}{{.ConfigName}}{{end}}',
      alertmanager,
    );
    const webhook = `    webhook_configs: [{ url: 'http://${sink}:${port}/', send_resolved: true }]\n`;
    const yml = readFileSync(join(ROOT, 'monitoring/alertmanager/alertmanager.yml'), 'utf8')
      .replace('  - name: critical\n', `  - name: critical\n${webhook}`)
      .replace('  - name: warning\n', `  - name: warning\n${webhook}`)
      // A matcher no alert has makes this run's group keys its own: Alertmanager's notification
      // log (kept in its volume) would otherwise hold back an alert an earlier run was sent.
      .replace(
        `matchers: ['severity="critical"']`,
        `matchers: ['severity="critical"', 'test_run!="${run}"']`,
      );
    expect(yml).toContain(`${sink}:${port}`);
    expect(yml).toContain(run);
    dockerWithInput(yml, 'config', 'create', webhookConfig, '-');
    const before = containers('alertmanager');
    docker(
      'service',
      'update',
      '--detach',
      '--config-rm',
      current,
      '--config-add',
      `source=${webhookConfig},target=/etc/alertmanager/alertmanager.yml`,
      alertmanager,
    );
    // Its new task healthy is enough (the update's 60 s monitor period need not pass).
    await converged('alertmanager', before);
    log(`Alertmanager routes critical and warning to http://${sink}:${port}/`);
  });

  afterAll(async () => {
    if (paused) docker('unpause', paused);
    const before = containers('alertmanager');
    docker('service', 'rollback', '--detach', alertmanager);
    await converged('alertmanager', before);
    docker('service', 'rm', sink);
    await until(
      'the webhook config unused',
      () => {
        docker('config', 'rm', webhookConfig);
        return true;
      },
      60_000,
      1_000,
    ).catch(() => undefined);
    await converged('redis-exporter');
  });

  it('ServiceDown fires in Prometheus, is routed as critical and reaches the webhook', async () => {
    const started = Date.now();
    [paused] = containers('redis-exporter');
    docker('pause', paused);
    log('redis-exporter paused: its scrape fails from now on');

    const delivered = await until(
      'ServiceDown for the redis exporter delivered to the webhook',
      () =>
        deliveries().find(
          (d) =>
            d.status === 'firing' &&
            d.alerts.some((a) => a.labels.alertname === 'ServiceDown' && a.labels.job === 'redis'),
        ),
      240_000,
      2_000,
    );
    const seconds = Math.round((Date.now() - started) / 1000);
    log(`delivered after ${seconds} s to receiver ${delivered.receiver}`);
    expect(delivered.receiver).toBe('critical');
    const alert = delivered.alerts.find((a) => a.labels.alertname === 'ServiceDown')!;
    expect(alert.labels).toMatchObject({ severity: 'critical', service: 'redis' });
    // The same alert as Prometheus and Alertmanager hold it.
    expect(
      (await prometheusAlerts()).some(
        (a) => a.labels.alertname === 'ServiceDown' && a.labels.job === 'redis' && a.state === 'firing',
      ),
    ).toBe(true);
    const am = (await (await fetch(`${ALERTMANAGER_URL}/api/v2/alerts`)).json()) as {
      labels: Record<string, string>;
    }[];
    expect(am.some((a) => a.labels.alertname === 'ServiceDown' && a.labels.job === 'redis')).toBe(true);

    docker('unpause', paused);
    paused = undefined;
    await until(
      'ServiceDown for redis resolved in Prometheus',
      async () =>
        (await prometheusAlerts()).some(
          (a) => a.labels.alertname === 'ServiceDown' && a.labels.job === 'redis',
        )
          ? undefined
          : true,
      120_000,
      2_000,
    );
    log('unpaused: the alert resolved');
  });
});
