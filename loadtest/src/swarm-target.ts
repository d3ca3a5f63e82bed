// `npm run load -- --target swarm` (issue 24): the same run against the Swarm stack of
// `npm run swarm -- up`. Orders go to the stack's published edge (127.0.0.1:GATEWAY_PORT),
// Prometheus is the stack's (127.0.0.1:PROMETHEUS_PORT). PostgreSQL (through PgBouncer) and Kafka
// are not published: the reconciliation reaches them through local TCP relays, each connection a
// `docker exec -i` into one of the stack's own order-router tasks that opens the service's port
// on the backend network (bash /dev/tcp), so nothing of the stack is exposed and no foreign
// container joins its networks. The balance invariants run in that task too.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import type { ISocketFactory } from 'kafkajs';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { ROOT } from './platform';
import { SwarmLabeller } from './containers';

export const SWARM_SECRETS = join(ROOT, 'swarm/.run/secrets');

export interface SwarmTarget {
  stack: string;
  gatewayUrl: string;
  prometheusUrl: string;
  operatorTokenFile: string;
  labeller: SwarmLabeller;
  /** host:port of a stack service (e.g. kafka-1:9092) -> local relay port. */
  relays: Map<string, number>;
  /** Container of the task the relays and the reconciliation run in. */
  taskContainer: string;
  close(): void;
}

/** The gateway's published port and Prometheus's, as `npm run swarm` publishes them. */
export function swarmUrls(): { gatewayUrl: string; prometheusUrl: string } {
  return {
    gatewayUrl: `http://127.0.0.1:${process.env.GATEWAY_PORT ?? 8080}`,
    prometheusUrl: `http://127.0.0.1:${process.env.PROMETHEUS_PORT ?? 9090}`,
  };
}

function runningTask(stack: string, service: string): string {
  const ids = execFileSync(
    'docker',
    ['ps', '-q', '--no-trunc', '--filter', `label=com.docker.swarm.service.name=${stack}_${service}`],
    { encoding: 'utf8' },
  )
    .split('\n')
    .filter(Boolean);
  if (ids.length === 0)
    throw new Error(`no running ${stack}_${service} task: is the stack up (npm run swarm -- up)?`);
  return ids[0];
}

/** One local port whose every connection is piped through `docker exec -i <container>` to host:port. */
function relay(container: string, host: string, port: number, sockets: Set<Socket>): Promise<Server> {
  // The background cat copies the service's bytes out; the foreground one ours in. When either
  // side closes, the other cat is stopped, and the descriptor's close tells the service.
  const script = `exec 3<>/dev/tcp/${host}/${port} || exit 1; cat <&3 & p=$!; cat >&3; kill $p 2>/dev/null; exit 0`;
  const server = createServer((socket) => {
    sockets.add(socket);
    const child = spawn('docker', ['exec', '-i', container, 'bash', '-c', script], {
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    socket.pipe(child.stdin);
    child.stdout.pipe(socket);
    child.stdin.on('error', () => socket.destroy());
    socket.on('error', () => child.kill());
    socket.on('close', () => {
      sockets.delete(socket);
      child.kill();
    });
    child.on('exit', () => socket.end());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

/**
 * Points the driver's database pool, Kafka client and Prometheus queries at the stack (through
 * process.env and the relays) and labels its processes by service.
 */
export async function openSwarmTarget(stack = process.env.STACK ?? 'trading'): Promise<SwarmTarget> {
  const { gatewayUrl, prometheusUrl } = swarmUrls();
  const taskContainer = runningTask(stack, 'order-router');
  const sockets = new Set<Socket>();
  const servers: Server[] = [];
  const relays = new Map<string, number>();
  for (const target of ['pgbouncer:5432', 'kafka-1:9092', 'kafka-2:9092', 'kafka-3:9092']) {
    const [host, port] = target.split(':');
    const server = await relay(taskContainer, host, Number(port), sockets);
    servers.push(server);
    relays.set(target, (server.address() as AddressInfo).port);
  }
  process.env.DATABASE_HOST = '127.0.0.1';
  process.env.DATABASE_PORT = String(relays.get('pgbouncer:5432'));
  process.env.DATABASE_NAME = 'exchange';
  process.env.DATABASE_USER = 'exchange';
  process.env.DATABASE_PASSWORD_FILE = join(SWARM_SECRETS, 'pg_password');
  delete process.env.DATABASE_PASSWORD;
  process.env.KAFKA_BROKERS = 'kafka-1:9092,kafka-2:9092,kafka-3:9092';
  process.env.PROMETHEUS_URL = prometheusUrl;
  return {
    stack,
    gatewayUrl,
    prometheusUrl,
    operatorTokenFile: join(SWARM_SECRETS, 'operator_token'),
    labeller: new SwarmLabeller(stack),
    relays,
    taskContainer,
    close() {
      for (const s of sockets) s.destroy();
      for (const s of servers) s.close();
    },
  };
}

/** kafkajs socketFactory: the advertised broker names (kafka-N:9092) through the relays. */
export function relaySocketFactory(relays: Map<string, number>): ISocketFactory {
  return ({ host, port, onConnect }) => {
    const local = relays.get(`${host}:${port}`);
    if (local === undefined) throw new Error(`no relay to ${host}:${port}`);
    const socket = connect({ host: '127.0.0.1', port: local }, onConnect);
    socket.setKeepAlive(true, 30_000);
    return socket;
  };
}

/** (d) of the reconciliation inside an order-router task: its image, secrets and settings. */
export function swarmPlatformReconcile(container: string): {
  ok: boolean;
  exitCode: number | null;
  output: string;
} {
  const r = spawnSync(
    'docker',
    ['exec', container, 'node', 'dist/services/order-router/src/reconcile.main.js'],
    { encoding: 'utf8', timeout: 120_000 },
  );
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  return { ok: r.status === 0, exitCode: r.status, output: output.split('\n').slice(-20).join('\n') };
}
