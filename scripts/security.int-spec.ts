import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { DataSource } from 'typeorm';
import { databaseSchema, loadConfig } from '@trading/config';
import { SIGNATURE_HEADERS } from '@trading/contracts';
import { createDataSource } from '@trading/db';
import { ExchangeClient, sign, type Credentials } from './testing/exchange-client';
import { nativeEnv, secret, startService, stopProcess, testPort, waitReady } from './testing/native-services';

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
    for (const who of ['a', 'b', 'c', 'd', 'e']) {
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

  it('refuses case variants of a used signature as replays, on REST and on the WebSocket auth', async () => {
    await new Promise((r) => setTimeout(r, 1100)); // a fresh rate window
    const variants = (sig: string): string[] => [
      sig.toUpperCase(),
      sig.replace(/[a-f]/, (c) => c.toUpperCase()),
      sig.replace(/[a-f]/g, (c, i: number) => (i % 2 ? c.toUpperCase() : c)),
    ];
    const ts = String(Date.now());
    const sig = sign(creds[3].secret, ts, 'GET', '/v1/balances', '');
    const send = (signature: string) =>
      fetch(`http://127.0.0.1:${PORT}/v1/balances`, {
        headers: {
          [SIGNATURE_HEADERS.apiKey]: creds[3].apiKey,
          [SIGNATURE_HEADERS.timestamp]: ts,
          [SIGNATURE_HEADERS.signature]: signature,
        },
      });
    expect((await send(sig)).status).toBe(200);
    for (const variant of variants(sig)) {
      const res = await send(variant);
      expect([variant, res.status, ((await res.json()) as { error?: { code: string } }).error?.code]).toEqual(
        [variant, 401, 'REPLAYED_REQUEST'],
      );
    }
    // The stream's auth message: the first socket is authenticated, the re-cased ones are not.
    const wsTs = String(Date.now());
    const wsSig = sign(creds[3].secret, wsTs, 'GET', '/v1/stream', '');
    const first = api.stream();
    await first.send({ op: 'auth', apiKey: creds[3].apiKey, timestamp: wsTs, signature: wsSig });
    await first.waitFor((m) => m.type === 'authenticated');
    first.close();
    for (const variant of variants(wsSig)) {
      const ws = api.stream();
      try {
        await ws.send({ op: 'auth', apiKey: creds[3].apiKey, timestamp: wsTs, signature: variant });
        const answer = await ws.waitFor((m) => m.type === 'authenticated' || m.type === 'error');
        expect([variant, answer.type, answer.code]).toEqual([variant, 'error', 'REPLAYED_REQUEST']);
        await ws.send({ op: 'subscribe', channel: 'orders' });
        await ws.waitFor((m) => m.type === 'error' && m.code === 'UNAUTHENTICATED');
      } finally {
        ws.close();
      }
    }
  });

  it("spends no key's rate budget on requests whose signature did not verify (they count per IP)", async () => {
    const victim = creds[4];
    const forged = (i: number): Promise<Response> =>
      fetch(`http://127.0.0.1:${PORT}${i % 2 ? '/v1/markets' : `/v1/balances?f=${i}`}`, {
        headers: {
          [SIGNATURE_HEADERS.apiKey]: victim.apiKey,
          [SIGNATURE_HEADERS.timestamp]: String(Date.now()),
          [SIGNATURE_HEADERS.signature]: i % 3 ? 'ab'.repeat(32) : 'not-a-signature',
        },
      });
    // The forged requests and the owner's signed one inside one fixed one-second window.
    for (let attempt = 0; ; attempt++) {
      await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
      const second = Math.floor(Date.now() / 1000);
      const statuses = (await Promise.all(Array.from({ length: 60 }, (_, i) => forged(i)))).map(
        (r) => r.status,
      );
      const own = await api.signed(victim, 'GET', '/v1/balances');
      if (Math.floor(Date.now() / 1000) !== second && attempt < 3) continue;
      // Three times the key's limit of 20 was sent in its name: none of it counted against it.
      expect({ own: own.status, forged: [...new Set(statuses)].sort() }).toEqual({
        own: 200,
        forged: [200, 401],
      });
      expect(own.headers.get('x-ratelimit-limit')).toBe('20');
      expect(own.headers.get('x-ratelimit-remaining')).toBe('19');
      break;
    }
  });

  it('takes X-Forwarded-For only from the proxies in TRUSTED_PROXIES (none by default)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xff-'));
    const logFile = join(dir, 'untrusted.log');
    const logFd = openSync(logFile, 'a');
    const ports = { untrusted: testPort(18782), trusted: testPort(18783) };
    const limits = { RATE_LIMIT_PER_IP: '5', LOG_LEVEL: 'debug' };
    const untrusted = startService('api-gateway', ports.untrusted, 'xff-untrusted', limits, logFd);
    const trusted = startService('api-gateway', ports.trusted, 'xff-trusted', {
      ...limits,
      TRUSTED_PROXIES: '127.0.0.1/32, ::1',
    });
    try {
      await Promise.all([waitReady(ports.untrusted, untrusted), waitReady(ports.trusted, trusted)]);
      /** Ten requests in one second, each claiming another client address. */
      const burst = async (port: number, addresses: (i: number) => string): Promise<number[]> => {
        await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
        const out: number[] = [];
        for (let i = 0; i < 10; i++) {
          const res = await fetch(`http://127.0.0.1:${port}/v1/markets`, {
            headers: { 'x-forwarded-for': addresses(i) },
          });
          out.push(res.status);
        }
        return out;
      };
      // Untrusted: every request is 127.0.0.1's, whatever it claims; beyond 5 a second, 429.
      const spoofed = await burst(ports.untrusted, (i) => `203.0.113.${i}`);
      expect(spoofed.filter((s) => s === 429).length).toBeGreaterThan(0);
      // Trusted (the loopback is the proxy here): each claimed client has its own bucket...
      expect(await burst(ports.trusted, (i) => `198.51.100.1, 203.0.113.${i}`)).toEqual(
        Array.from({ length: 10 }, () => 200),
      );
      // ...and one client behind the proxy is limited on its own.
      const one = await burst(ports.trusted, () => '203.0.113.77');
      expect(one.filter((s) => s === 429).length).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 200));
      const log = readFileSync(logFile, 'utf8');
      expect(log).toContain('"remoteAddress":"127.0.0.1"');
      expect(log).not.toContain('203.0.113.');
    } finally {
      await Promise.all([stopProcess(untrusted), stopProcess(trusted)]);
      closeSync(logFd);
    }
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
