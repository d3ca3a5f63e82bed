import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadAutoscalerConfig } from './config';

// The autoscaler as swarm/monitoring.yml deploys it: its configuration passes the validation it
// runs at start, it runs once, on a manager, with the Docker socket, and Prometheus scrapes it.
const root = join(__dirname, '../../..');
const yaml = (f: string) => parse(readFileSync(join(root, f), 'utf8'));

describe('the autoscaler in the Swarm stack', () => {
  const svc = yaml('swarm/monitoring.yml').services.autoscaler;

  it('has a configuration that validates, scaling matching workers up to the partitions', () => {
    const env: Record<string, string> = Object.fromEntries(
      Object.entries(svc.environment as Record<string, string>).map(([k, v]) => [
        k,
        String(v).replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1'),
      ]),
    );
    const config = loadAutoscalerConfig({ ...env, AUTOSCALER_STACK: 'trading' });
    expect(config.mode).toBe('on');
    expect(config.services.map((s) => s.name).sort()).toEqual([
      'api-gateway',
      'matching-worker',
      'order-router',
    ]);
    const mw = config.services.find((s) => s.name === 'matching-worker');
    expect(mw?.policy.capAtPartitions).toBe(true);
    expect(mw?.policy.max).toBeLessThanOrEqual(config.partitions);
    expect(svc.environment.AUTOSCALER_STACK).toContain('com.docker.stack.namespace');
  });

  it('runs one task on a manager with the Docker socket; dry-run on a single node', () => {
    expect(svc.deploy.replicas).toBe(1);
    expect(svc.deploy.placement.constraints).toEqual(['node.role == manager']);
    expect(svc.volumes).toContainEqual(
      expect.objectContaining({
        type: 'bind',
        source: '/var/run/docker.sock',
        target: '/var/run/docker.sock',
      }),
    );
    expect(svc.command).toContain('dist/services/autoscaler/src/main.js');
    expect(yaml('swarm/single-node.yml').services.autoscaler.environment.AUTOSCALER_MODE).toBe(
      '${AUTOSCALER_MODE:-dry-run}',
    );
  });

  it('is scraped by the stack Prometheus', () => {
    const jobs = yaml('monitoring/prometheus/prometheus.swarm.yml').scrape_configs;
    expect(jobs).toContainEqual(
      expect.objectContaining({
        job_name: 'autoscaler',
        dns_sd_configs: [expect.objectContaining({ names: ['tasks.autoscaler'], port: 8080 })],
      }),
    );
  });
});
