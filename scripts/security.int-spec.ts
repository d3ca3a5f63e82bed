import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import fc from 'fast-check';
import type { DataSource } from 'typeorm';
import { databaseSchema, loadConfig } from '@trading/config';
import { SIGNATURE_HEADERS } from '@trading/contracts';
import { createDataSource } from '@trading/db';
import { ExchangeClient, sign, type Credentials } from './testing/exchange-client';
import { nativeEnv, secret, testPort } from './testing/native-services';

// A gateway of its own (low rate limit) against the real Kafka, PostgreSQL and Redis: replayed
// signatures, rate limits, other people's orders, hostile bodies, and secrets kept out of logs.
const PORT = testPort(18780);
const api = new ExchangeClient(`http://127.0.0.1:${PORT}`);
const run = randomUUID().slice(0, 8);

describe('gateway security', () => {
  jest.setTimeout(180_000);
  let gateway: ChildProcess;
  let db: DataSource;
  const logs: string[] = [];
  const creds: Credentials[] = [];

  beforeAll(async () => {
    gateway = spawn(process.execPath, [join(__dirname, '../dist/services/api-gateway/src/main.js')], {
      env: {
        ...process.env,
        ...nativeEnv(),
        HTTP_PORT: String(PORT),
        INSTANCE_ID: 'security',
        LOG_LEVEL: 'debug',
        RATE_LIMIT_PER_KEY: '20',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    gateway.stdout!.on('data', (d: Buffer) => logs.push(d.toString()));
    gateway.stderr!.on('data', (d: Buffer) => logs.push(d.toString()));
    await api.until(
      'gateway ready',
      async () =>
        (await fetch(`http://127.0.0.1:${PORT}/health/ready`).then(
          (r) => r.status === 200,
          () => false,
        )) || undefined,
      60_000,
    );
    for (const who of ['a', 'b', 'c']) {
      const res = await api.operator<{ apiKey: string; secret: string }>(
        secret('operator_token'),
        'POST',
        '/v1/operator/accounts',
        { accountId: `sec-${who}-${run}`, name: who },
      );
      expect(res.status).toBe(201);
      creds.push({ apiKey: res.body.apiKey, secret: res.body.secret });
    }
    db = createDataSource(loadConfig(databaseSchema), { applicationName: 'security-spec' });
    await db.initialize();
  });

  afterAll(async () => {
    await db?.destroy();
    if (gateway && gateway.exitCode === null) {
      const exited = once(gateway, 'exit');
      gateway.kill('SIGTERM');
      await exited;
    }
  });

  it('refuses a signed request replayed within its window', async () => {
    const ts = String(Date.now());
    const headers = {
      [SIGNATURE_HEADERS.apiKey]: creds[0].apiKey,
      [SIGNATURE_HEADERS.timestamp]: ts,
      [SIGNATURE_HEADERS.signature]: sign(creds[0].secret, ts, 'GET', '/v1/balances', ''),
    };
    expect((await fetch(`http://127.0.0.1:${PORT}/v1/balances`, { headers })).status).toBe(200);
    const replay = await fetch(`http://127.0.0.1:${PORT}/v1/balances`, { headers });
    expect(replay.status).toBe(401);
    expect(((await replay.json()) as { error: { code: string } }).error.code).toBe('REPLAYED_REQUEST');
  });

  it('answers 429 with the limit in headers beyond the per-key rate', async () => {
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => api.signed(creds[1], 'GET', `/v1/balances?n=${i}`)),
    );
    const limited = results.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0].headers.get('x-ratelimit-limit')).toBe('20');
    expect(limited[0].headers.get('retry-after')).toBe('1');
    expect(results.every((r) => r.status === 200 || r.status === 429)).toBe(true);
  });

  it('lets a request refused with 429 be sent again as it was (its nonce is claimed only when admitted)', async () => {
    const ts = String(Date.now());
    const requests = Array.from({ length: 30 }, (_, i) => {
      const path = `/v1/balances?retry=${i}`;
      return {
        path,
        headers: {
          [SIGNATURE_HEADERS.apiKey]: creds[2].apiKey,
          [SIGNATURE_HEADERS.timestamp]: ts,
          [SIGNATURE_HEADERS.signature]: sign(creds[2].secret, ts, 'GET', path, ''),
        },
      };
    });
    const send = (r: (typeof requests)[number]) =>
      fetch(`http://127.0.0.1:${PORT}${r.path}`, { headers: r.headers });
    const first = await Promise.all(requests.map(send));
    const refused = requests.filter((_, i) => first[i].status === 429);
    expect(refused.length).toBeGreaterThan(0);
    expect(first.every((r) => r.status === 200 || r.status === 429)).toBe(true);
    // The next one-second window: the very same signed requests are admitted once, then replays.
    await new Promise((r) => setTimeout(r, 1100));
    const again = await Promise.all(refused.slice(0, 10).map(send));
    expect(again.map((r) => r.status)).toEqual(again.map(() => 200));
    const replay = await send(refused[0]);
    expect(replay.status).toBe(401);
    expect(((await replay.json()) as { error: { code: string } }).error.code).toBe('REPLAYED_REQUEST');
  });

  it("lets no account read, amend or cancel another account's order", async () => {
    await new Promise((r) => setTimeout(r, 1100)); // a fresh rate window
    const [row] = (await db.query(`SELECT order_id FROM orders WHERE account_id <> $1 LIMIT 1`, [
      `sec-a-${run}`,
    ])) as { order_id: string }[];
    const orderId = row?.order_id ?? randomUUID();
    for (const [method, body] of [
      ['GET', undefined],
      ['DELETE', undefined],
      ['PATCH', { quantity: '0.0001' }],
    ] as const) {
      const res = await api.signed<{ error: { code: string } }>(
        creds[0],
        method,
        `/v1/orders/${orderId}`,
        body,
      );
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('ORDER_NOT_FOUND');
    }
  });

  it('answers hostile order bodies with 4xx only, stays up, and sends nothing on', async () => {
    await new Promise((r) => setTimeout(r, 1100));
    const hostile = fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc
        .record({
          symbol: fc.string(),
          side: fc.string(),
          type: fc.string(),
          price: fc.oneof(fc.string(), fc.double(), fc.bigInt().map(String)),
          quantity: fc.oneof(fc.string(), fc.integer(), fc.constant('1e308'), fc.constant('-0')),
        })
        .map((v) => JSON.stringify(v)),
      fc.constantFrom(
        '{"__proto__":{"admin":true},"symbol":"BTC-USDT"}',
        '{"constructor":{"prototype":{"x":1}}}',
        '{"symbol":"BTC-USDT","side":"buy"',
        '[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]',
        '{"symbol":"\u0000\ud800"}',
        'null',
        '"',
        '{"quantity":"99999999999999999999999999999999"}',
      ),
      fc.string({ unit: 'binary', maxLength: 200 }),
    );
    await fc.assert(
      fc.asyncProperty(hostile, async (body) => {
        const ts = String(Date.now());
        const res = await fetch(`http://127.0.0.1:${PORT}/v1/orders`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            [SIGNATURE_HEADERS.apiKey]: creds[0].apiKey,
            [SIGNATURE_HEADERS.timestamp]: ts,
            [SIGNATURE_HEADERS.signature]: sign(creds[0].secret, ts, 'POST', '/v1/orders', body),
          },
          body,
        });
        // 429 is a 4xx too: the fuzzer outruns the per-key limit on purpose.
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
      }),
      { numRuns: 150 },
    );
    expect(gateway.exitCode).toBeNull();
    expect((await fetch(`http://127.0.0.1:${PORT}/health/live`)).status).toBe(200);
    // Nothing reached the router: no order row for the account.
    await new Promise((r) => setTimeout(r, 1500));
    const [{ n }] = (await db.query(`SELECT count(*)::int AS n FROM orders WHERE account_id = $1`, [
      `sec-a-${run}`,
    ])) as { n: number }[];
    expect(n).toBe(0);
  });

  it('never writes a secret to its logs', () => {
    const text = logs.join('');
    expect(text.length).toBeGreaterThan(0);
    for (const c of creds) expect(text).not.toContain(c.secret);
    expect(text).not.toContain(secret('operator_token'));
    expect(text).not.toContain(secret('pg_password'));
  });
});
