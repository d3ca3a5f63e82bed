// CPU per request of one or more running gateways, measured side by side: the same signed
// request mix is sent to each in turn, round after round, and each gateway's CPU time (utime +
// stime from /proc) is divided by the requests it answered. Interleaving makes a busy, shared
// machine hit every candidate alike, so two builds can be compared on CPU per request.
//
//   node -r @swc-node/register loadtest/src/gateway-cpu.ts --target new=http://127.0.0.1:8080:<pid> \
//     --target base=http://127.0.0.1:8180:<pid> [--rounds 6] [--requests 3000] [--concurrency 32]
//
// The mix: IOC limit buys far below the market from unfunded accounts (202, then the router
// rejects them: nothing rests, nothing to clean up), one cancel per four placements (of the
// order just placed: the Redis record or the database lookup path), one amend per eight.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RUN_DIR } from './platform';
import { signedRequest, type HttpMethod, type LoadAccount } from './scenario';
import { nodeHmac } from './vegeta-targets';

interface Reply<T> {
  status: number;
  body: T;
}

/** Signed requests of the load accounts against one gateway. */
class ExchangeClient {
  constructor(readonly baseUrl: string) {}

  async signed<T = Record<string, unknown>>(
    account: LoadAccount,
    method: HttpMethod,
    path: string,
    payload?: unknown,
  ): Promise<Reply<T>> {
    const body = payload === undefined ? '' : JSON.stringify(payload);
    const spec = signedRequest(nodeHmac, account, method, path, body, Date.now(), 'gateway-cpu');
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: spec.headers,
      body: body || undefined,
    });
    return { status: res.status, body: (await res.json()) as T };
  }

  async operator<T>(token: string, path: string, payload: unknown): Promise<Reply<T>> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-operator-token': token },
      body: JSON.stringify(payload),
    });
    return { status: res.status, body: (await res.json()) as T };
  }
}

interface Target {
  name: string;
  url: string;
  pid: number;
  ms: number[];
}

function args(): { targets: Target[]; rounds: number; requests: number; concurrency: number } {
  const argv = process.argv.slice(2);
  const all = (name: string) => argv.flatMap((a, i) => (a === `--${name}` ? [argv[i + 1]] : []));
  const one = (name: string, dflt: number) => Number(all(name)[0] ?? dflt);
  const targets = all('target').map((t) => {
    const m = /^([^=]+)=(.+):(\d+)$/.exec(t);
    if (!m) throw new Error(`--target name=url:pid, got ${t}`);
    return { name: m[1], url: m[2], pid: Number(m[3]), ms: [] };
  });
  if (targets.length === 0) throw new Error('at least one --target name=url:pid');
  return {
    targets,
    rounds: one('rounds', 6),
    requests: one('requests', 3000),
    concurrency: one('concurrency', 32),
  };
}

/** utime + stime of a process in milliseconds. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat (1-based), counted after the command name.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

async function main(): Promise<void> {
  const { targets, rounds, requests, concurrency } = args();
  const operator = readFileSync(join(RUN_DIR, 'secrets/operator_token'), 'utf8').trim();
  const setup = new ExchangeClient(targets[0].url);
  const accounts: LoadAccount[] = [];
  for (let i = 0; i < 8; i++) {
    const accountId = `cpu-${randomUUID().slice(0, 8)}`;
    const res = await setup.operator<{ apiKey: string; secret: string }>(operator, '/v1/operator/accounts', {
      accountId,
      name: 'gateway-cpu',
    });
    if (res.status !== 201) throw new Error(`account creation: ${res.status} ${JSON.stringify(res.body)}`);
    accounts.push({ accountId, keyId: res.body.apiKey, secret: res.body.secret });
  }

  const statuses: Record<string, number> = {};
  let firstError = '';
  const oneRequest = async (api: ExchangeClient, n: number): Promise<number> => {
    const creds = accounts[n % accounts.length];
    const placed = await api.signed<{ orderId: string }>(creds, 'POST', '/v1/orders', {
      symbol: n % 2 ? 'BTC-USDT' : 'ETH-USDT',
      side: 'buy',
      type: 'limit',
      quantity: '1',
      price: '10',
      timeInForce: 'IOC',
    });
    statuses[placed.status] = (statuses[placed.status] ?? 0) + 1;
    if (placed.status !== 202 && !firstError) firstError = JSON.stringify(placed.body);
    let sent = 1;
    if (n % 4 === 0 && placed.status === 202) {
      const c = await api.signed(creds, 'DELETE', `/v1/orders/${placed.body.orderId}`);
      statuses[`cancel ${c.status}`] = (statuses[`cancel ${c.status}`] ?? 0) + 1;
      sent++;
    } else if (n % 8 === 1 && placed.status === 202) {
      const a = await api.signed(creds, 'PATCH', `/v1/orders/${placed.body.orderId}`, { quantity: '2' });
      statuses[`amend ${a.status}`] = (statuses[`amend ${a.status}`] ?? 0) + 1;
      sent++;
    }
    return sent;
  };

  for (let round = 0; round < rounds; round++) {
    for (const t of round % 2 ? [...targets].reverse() : targets) {
      const api = new ExchangeClient(t.url);
      let next = 0;
      let sent = 0;
      const before = cpuMs(t.pid);
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < requests) {
            const n = await oneRequest(api, next++);
            sent += n;
          }
        }),
      );
      // The last acknowledgements' socket work lands a moment after the answers.
      await new Promise((r) => setTimeout(r, 200));
      const ms = (cpuMs(t.pid) - before) / sent;
      t.ms.push(ms);
      process.stdout.write(`round ${round + 1} ${t.name}: ${sent} requests, ${ms.toFixed(3)} ms CPU each\n`);
    }
  }
  process.stdout.write(`statuses: ${JSON.stringify(statuses)} ${firstError}\n`);
  for (const t of targets) {
    const sorted = [...t.ms].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    process.stdout.write(
      `${t.name}: median ${median.toFixed(3)} ms CPU per request (min ${sorted[0].toFixed(3)}, max ${sorted[sorted.length - 1].toFixed(3)})\n`,
    );
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
