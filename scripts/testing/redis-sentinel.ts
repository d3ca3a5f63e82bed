import { execFileSync } from 'node:child_process';
import { infraUp, nativeEnv } from './native-services';
import { until } from './until';

// The native Redis behind Sentinel (native/lib/redis.sh): which node is primary, and putting
// REDIS_URL's node back as primary after a failover, for the suites and chaos runs that kill it.

interface Topology {
  sentinels: number[];
  /** REDIS_URL's port: the primary `native/infra.sh up` makes first. */
  primary: number;
  name: string;
}

function topology(): Topology {
  const env = nativeEnv();
  return {
    sentinels: env.REDIS_SENTINELS.split(',').map((hp) => Number(hp.split(':')[1])),
    primary: Number(new URL(env.REDIS_URL).port),
    name: env.REDIS_SENTINEL_NAME,
  };
}

export function redisCli(port: number, ...args: string[]): string {
  return execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8' });
}

/** REDIS_URL's port: the node that is primary when nothing failed over. */
export function configuredPrimaryPort(): number {
  return topology().primary;
}

/** The primary's port as the first sentinel that answers names it. */
export function primaryPort(): number | undefined {
  const { sentinels, name } = topology();
  for (const port of sentinels) {
    try {
      const [, p] = redisCli(port, 'sentinel', 'get-master-addr-by-name', name).trim().split('\n');
      if (p) return Number(p);
    } catch {
      // that sentinel is not answering
    }
  }
  return undefined;
}

/** Waits until the sentinels name a primary other than `oldPort` (the promoted replica): its port. */
export function promotedFrom(oldPort: number | undefined, timeoutMs = 60_000): Promise<number> {
  return until(
    'Sentinel promoting the Redis replica',
    () => {
      const p = primaryPort();
      return p !== undefined && p !== oldPort ? p : undefined;
    },
    timeoutMs,
    100,
  );
}

/** Back to REDIS_URL's node as primary (other suites use it directly), with its replica linked. */
export async function failBack(): Promise<void> {
  const { sentinels, primary, name } = topology();
  infraUp();
  if (primaryPort() !== primary) {
    // A replica that has just joined cannot be promoted until its link is up.
    await until('the old primary synced as a replica', () =>
      /master_link_status:up/.test(redisCli(primary, 'info', 'replication')) ? true : undefined,
    );
    await until(
      'the failback',
      () => {
        if (primaryPort() === primary) return true;
        try {
          redisCli(sentinels[0], 'sentinel', 'failover', name);
        } catch {
          // INPROG: one is running
        }
        return undefined;
      },
      60_000,
      1000,
    );
  }
  infraUp();
  // The sentinels turn the other node into its replica some seconds after a failover.
  await until(
    'the replica linked to the primary',
    () => (/slave0:.*state=online/.test(redisCli(primary, 'info', 'replication')) ? true : undefined),
    60_000,
    500,
  );
}
