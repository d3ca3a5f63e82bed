// Which Swarm service a host process belongs to (issue 24): a container's processes are ordinary
// processes of the host, in the container's cgroup; /proc/<pid>/cgroup names the container, and
// the container's label com.docker.swarm.service.name names the service. The parsing is pure
// (scripts/load-swarm.spec.ts); SwarmLabeller reads /proc and asks `docker ps`.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * The Docker container id in a /proc/<pid>/cgroup text, or null for a host process. Handles
 * cgroup v1 and v2 with the cgroupfs driver (`/docker/<id>`) and the systemd driver
 * (`/system.slice/docker-<id>.scope`).
 */
export function containerIdOfCgroup(text: string): string | null {
  const m = /(?:\/docker\/|\/docker-)([0-9a-f]{64})(?:\.scope)?(?:\/|$)/m.exec(text);
  return m ? m[1] : null;
}

/**
 * `docker ps --no-trunc --format '{{.ID}}\t{{.Label "com.docker.swarm.service.name"}}'` into
 * container id -> service name without the stack's prefix (`trading_api-gateway` ->
 * `api-gateway`). Containers of other stacks, or of no service, are left out.
 */
export function parseServiceContainers(psOutput: string, stack: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of psOutput.split('\n')) {
    const [id, service] = line.trim().split('\t');
    if (!id || !service || !service.startsWith(`${stack}_`)) continue;
    out.set(id, service.slice(stack.length + 1));
  }
  return out;
}

/** The engine's own processes on the host (comm, 15 characters at most): part of the deployment. */
export const ENGINE_NAMES = ['dockerd', 'containerd', 'containerd-shim', 'runc', 'docker-proxy'];

/** The label of a process of a Swarm deployment: its service, the engine, or null (not ours). */
export function swarmLabelOf(cgroupText: string, comm: string, services: Map<string, string>): string | null {
  const id = containerIdOfCgroup(cgroupText);
  if (id) return services.get(id) ?? null;
  return ENGINE_NAMES.includes(comm) ? comm : null;
}

/**
 * What a label counts as in the tables: the four app services, Kafka, the data stores, the
 * monitoring, the container engine, the edge balancer, or the load driver.
 */
export function groupOf(name: string): string {
  if (/^(api-gateway|order-router|matching-worker|market-data)/.test(name)) return 'services';
  if (/^kafka/.test(name)) return 'kafka';
  if (/^(postgres|timescaledb|pgbouncer|redis(-replica|-sentinel-\d+)?)$/.test(name)) return 'data';
  if (
    /^(prometheus|alertmanager|grafana|cadvisor|node-exporter|postgres-exporter|redis-exporter)$/.test(name)
  )
    return 'monitoring';
  if (ENGINE_NAMES.includes(name)) return 'engine';
  if (name === 'edge') return 'edge';
  if (/^(load-driver|vegeta)/.test(name)) return 'driver';
  return 'other';
}

/** Labels host pids by Swarm service; `refresh()` re-reads the stack's containers. */
export class SwarmLabeller {
  private services = new Map<string, string>();

  constructor(
    readonly stack: string,
    private readonly docker = 'docker',
  ) {
    this.refresh();
  }

  refresh(): void {
    const ps = execFileSync(
      this.docker,
      ['ps', '--no-trunc', '--format', '{{.ID}}\t{{.Label "com.docker.swarm.service.name"}}'],
      { encoding: 'utf8' },
    );
    this.services = parseServiceContainers(ps, this.stack);
  }

  /** Every label this deployment's processes can carry. */
  names(): string[] {
    return [...new Set(this.services.values()), ...ENGINE_NAMES];
  }

  label = (pid: number, comm: string): string | null => {
    try {
      return swarmLabelOf(readFileSync(`/proc/${pid}/cgroup`, 'utf8'), comm, this.services);
    } catch {
      return null; // exited meanwhile
    }
  };
}
