import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExchangeClient, type Credentials } from './testing/exchange-client';
import { GATEWAY_URL, SERVICE_PORTS, secret } from './testing/native-services';

// The development runner's supervision (native/lib/supervise.sh under `npm run platform`): each
// kind of service is SIGKILLed and, without anyone acting, is running again under a new pid and
// ready (/health/ready 200) within READY_BOUND_MS; the supervisor logged the restart. Then a small
// load (crossing pairs between two fresh accounts, every order filled) and the money
// reconciliation are clean. Starts the platform's services (one matching worker) unless they are
// up, and stops only what it started; the infrastructure is left as it was.
const root = join(__dirname, '..');
const pids = join(root, 'native/.run/pids');
const logs = join(root, 'native/.run/logs');
/** First restart after 1 s, plus a boot on a busy two-core machine (a few seconds). */
const READY_BOUND_MS = 60_000;
const KINDS = [
  { name: 'api-gateway', port: SERVICE_PORTS['api-gateway'] },
  { name: 'order-router', port: SERVICE_PORTS['order-router'] },
  { name: 'matching-worker-0', port: SERVICE_PORTS['matching-worker'] },
  { name: 'market-data', port: SERVICE_PORTS['market-data'] },
];

function platform(...args: string[]): string {
  const r = spawnSync('bash', [join(root, 'native/platform.sh'), ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, PLATFORM_DEMO: '0', MATCHING_WORKERS: '1' },
    timeout: 600_000,
  });
  if (r.status !== 0)
    throw new Error(`platform ${args.join(' ')} exited ${r.status}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function pidOf(name: string, suffix = ''): number | undefined {
  const f = join(pids, `${name}.pid${suffix}`);
  if (!existsSync(f)) return undefined;
  const pid = Number(readFileSync(f, 'utf8').trim());
  return pid > 0 && alive(pid) ? pid : undefined;
}

async function ready(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/health/ready`)).status === 200;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('supervision of the native services (npm run platform)', () => {
  jest.setTimeout(900_000);
  let startedHere = false;

  beforeAll(async () => {
    startedHere = KINDS.some((k) => pidOf(k.name, '.supervisor') === undefined);
    if (startedHere) {
      for (const k of KINDS) {
        if (await ready(k.port))
          throw new Error(
            `${k.name}'s port ${k.port} is served by a process npm run platform does not supervise`,
          );
      }
    }
    platform('up');
  });

  afterAll(() => {
    if (startedHere) platform('stop-services');
  });

  it.each(KINDS)(
    '$name: SIGKILLed, restarted by its supervisor and ready within the bound',
    async ({ name, port }) => {
      const before = pidOf(name);
      const supervisor = pidOf(name, '.supervisor');
      expect(before).toBeDefined();
      expect(supervisor).toBeDefined();
      const logBefore = readFileSync(join(logs, `${name}.log`), 'utf8').length;
      const t0 = Date.now();
      process.kill(before!, 'SIGKILL');
      let after: number | undefined;
      for (;;) {
        after = pidOf(name);
        if (after !== undefined && after !== before && (await ready(port))) break;
        if (Date.now() - t0 > READY_BOUND_MS)
          throw new Error(`${name} not back and ready in ${READY_BOUND_MS} ms`);
        await sleep(200);
      }
      process.stdout.write(`[supervision] ${name}: ready again ${Date.now() - t0} ms after SIGKILL\n`);
      expect(pidOf(name, '.supervisor')).toBe(supervisor); // the same supervisor, not a new platform run
      const restart = readFileSync(join(logs, `${name}.log`), 'utf8')
        .slice(logBefore)
        .split('\n')
        .find((l) => l.includes('supervisor: exited, restarting'));
      expect(JSON.parse(restart!)).toMatchObject({ service: name, signal: 'KILL', pid: before });
    },
  );

  it('fills a small load afterwards and the money reconciles', async () => {
    const api = new ExchangeClient(GATEWAY_URL);
    const operator = secret('operator_token');
    const tag = randomUUID().slice(0, 8);
    const accounts: Record<string, Credentials> = {};
    for (const role of ['maker', 'taker']) {
      const res = await api.operator<{ apiKey: string; secret: string }>(
        operator,
        'POST',
        '/v1/operator/accounts',
        {
          accountId: `sup-${role}-${tag}`,
          name: `supervision ${role}`,
        },
      );
      expect(res.status).toBe(201);
      accounts[role] = { apiKey: res.body.apiKey, secret: res.body.secret };
    }
    for (const [role, asset, amount] of [
      ['maker', 'BTC', '1'],
      ['taker', 'USDT', '100000'],
    ]) {
      const r = await api.operator(operator, 'POST', '/v1/operator/deposits', {
        accountId: `sup-${role}-${tag}`,
        asset,
        amount,
      });
      expect(r.status).toBeLessThan(300);
    }
    await api.until('deposits', async () =>
      (await api.balance(accounts.taker, 'USDT'))?.available === '100000' ? true : undefined,
    );
    const buys: string[] = [];
    for (let i = 0; i < 20; i++) {
      const order = { symbol: 'BTC-USDT', type: 'limit', quantity: '0.001' };
      const sell = await api.signed(accounts.maker, 'POST', '/v1/orders', {
        ...order,
        side: 'sell',
        price: '60000.00',
      });
      const buy = await api.signed<{ orderId: string }>(accounts.taker, 'POST', '/v1/orders', {
        ...order,
        side: 'buy',
        price: '60000.00',
      });
      expect([sell.status, buy.status]).toEqual([202, 202]);
      buys.push(buy.body.orderId);
    }
    for (const id of buys) {
      await api.until(`buy ${id} filled`, async () => {
        const r = await api.signed<{ status: string }>(accounts.taker, 'GET', `/v1/orders/${id}`);
        return r.body.status === 'filled' ? true : undefined;
      });
    }
    expect(Number((await api.balance(accounts.taker, 'BTC'))?.available)).toBeGreaterThan(0.019);
    const out = execFileSync(
      process.execPath,
      [join(root, 'dist/services/order-router/src/reconcile.main.js')],
      {
        env: process.env,
        encoding: 'utf8',
      },
    );
    expect(out).toContain('"reconciliation":"ok"');
  });
});
