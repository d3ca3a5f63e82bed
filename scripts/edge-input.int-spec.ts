import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { SIGNATURE_HEADERS } from '@trading/contracts';
import { ExchangeClient, sign, type Credentials } from './testing/exchange-client';
import { nativeEnv, secret, testPort } from './testing/native-services';
import { openTestMarket } from './testing/test-market';

// Issue 18 (defect 4 and the smaller list): what the gateway's edge refuses, and how. A gateway of
// its own (built, as main.js runs it) against the real Kafka, PostgreSQL and Redis: control
// characters in any text input, non-JSON bodies and encodings, Fastify's own error shapes,
// wrong methods, prototype and duplicate JSON keys, cursors, non-decimal integers, an existing
// account created again, and the WebSocket subscription gauge.
const PORT = testPort(18783);
const BASE_URL = `http://127.0.0.1:${PORT}`;
const api = new ExchangeClient(BASE_URL);
const run = randomUUID().replace(/-/g, '').slice(0, 6).toUpperCase();
const symbol = `E${run}-USDT`;
const accountId = `edge-${run.toLowerCase()}`;

type ErrorBody = { error?: { code?: string; message?: string; field?: string } };

interface RawAnswer {
  status: number;
  headers: string;
  body: string;
}

/** One request over a raw socket (what fetch refuses to send); the status line, headers, body. */
function raw(request: Buffer | string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port: PORT });
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error('raw request timed out')));
    socket.on('connect', () => socket.write(request));
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(text);
      if (m) resolve({ status: Number(m[1]), headers: m[2].toLowerCase(), body: m[3] });
      else reject(new Error(`no HTTP answer in ${text.slice(0, 200)}`));
    });
  });
}

/** The platform's error shape: `{ error: { code, message, field? } }` and nothing else. */
function platformError(body: string): { code: string; message: string; field?: string } {
  const parsed = JSON.parse(body) as Record<string, unknown>;
  expect(Object.keys(parsed)).toEqual(['error']);
  const error = parsed.error as { code: string; message: string; field?: string };
  expect(typeof error.code).toBe('string');
  expect(typeof error.message).toBe('string');
  return error;
}

function signedHeaders(creds: Credentials, method: string, path: string, body: string) {
  const ts = String(Date.now());
  return {
    [SIGNATURE_HEADERS.apiKey]: creds.apiKey,
    [SIGNATURE_HEADERS.timestamp]: ts,
    [SIGNATURE_HEADERS.signature]: sign(creds.secret, ts, method, path, body),
  };
}

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v), 'utf8').toString('base64url');

describe('gateway edge input (issue 18)', () => {
  jest.setTimeout(120_000);
  let gateway: ChildProcess;
  let db: DataSource;
  let creds: Credentials;
  let operator: string;

  /** A signed request with a raw body string and any extra headers; status and parsed body. */
  async function signed(
    method: string,
    path: string,
    body = '',
    extra: Record<string, string> = {},
  ): Promise<{ status: number; body: ErrorBody & Record<string, unknown>; headers: Headers }> {
    const res = await fetch(`${BASE_URL}${path}`, {
      method,
      headers: {
        ...(body ? { 'content-type': 'application/json' } : {}),
        ...signedHeaders(creds, method, path, body),
        ...extra,
      },
      body: body || undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as ErrorBody) : {}, headers: res.headers };
  }

  async function operatorPost(path: string, body: string) {
    const res = await fetch(`${BASE_URL}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-operator-token': operator },
      body,
    });
    return { status: res.status, body: (await res.json()) as ErrorBody & Record<string, unknown> };
  }

  const order = (over: Record<string, unknown> = {}) => ({
    symbol,
    side: 'buy',
    type: 'limit',
    price: '1.00',
    quantity: '1',
    postOnly: true,
    ...over,
  });

  beforeAll(async () => {
    db = await openTestMarket('edge-input-spec', symbol, `E${run}`);
    gateway = spawn(process.execPath, [join(__dirname, '../dist/services/api-gateway/src/main.js')], {
      env: {
        ...process.env,
        ...nativeEnv(),
        HTTP_PORT: String(PORT),
        INSTANCE_ID: 'edge-input',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await api.until(
      'gateway ready',
      async () =>
        (await fetch(`${BASE_URL}/health/ready`).then(
          (r) => r.status === 200,
          () => false,
        )) || undefined,
      60_000,
    );
    operator = secret('operator_token');
    const created = await api.operator<Credentials>(operator, 'POST', '/v1/operator/accounts', {
      accountId,
      name: 'edge',
    });
    expect(created.status).toBe(201);
    creds = { apiKey: created.body.apiKey, secret: created.body.secret };
    await api.marketsListed([symbol]);
  });

  afterAll(async () => {
    await db?.destroy();
    if (gateway && gateway.exitCode === null) {
      const exited = once(gateway, 'exit');
      gateway.kill('SIGTERM');
      await exited;
    }
  });

  describe('control characters in text inputs', () => {
    it.each([
      ['/v1/orders?symbol=%00', 'symbol'],
      ['/v1/orders?symbol=BTC-USDT%00', 'symbol'],
      ['/v1/orders?symbol=BTC-USDT%01', 'symbol'],
      ['/v1/fills?symbol=%00', 'symbol'],
      ['/v1/fills?symbol=BTC-USDT%1F', 'symbol'],
      ['/v1/ledger?asset=%00', 'asset'],
    ])('GET %s is 400 naming %s', async (path, field) => {
      const res = await signed('GET', path);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field });
    });

    it.each([
      ['/v1/orders', b64(['1', '\u0000'])],
      ['/v1/orders', b64(['1', 'a\u0007b'])],
      ['/v1/orders', '%00'],
      ['/v1/fills', b64([1, '\u0000', 1, 'maker'])],
      ['/v1/fills', b64([1, 'BTC-USDT\u0000', 1, 'maker'])],
      ['/v1/ledger', '%00'],
    ])('a cursor of %s carrying control characters is 400 INVALID_CURSOR', async (path, cursor) => {
      const res = await signed('GET', `${path}?cursor=${cursor}`);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'INVALID_CURSOR', field: 'cursor' });
    });

    it.each([
      ['a NUL', 'a\u0000b'],
      ['a bell', 'a\u0007b'],
      ['a DEL', 'a\u007fb'],
      ['a C1 control', 'a\u0085b'],
    ])('refuses an operator account name with %s, naming the field', async (_what, name) => {
      const res = await operatorPost(
        '/v1/operator/accounts',
        JSON.stringify({ accountId: `edge-ctl-${run}`, name }),
      );
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'name' });
    });

    it('refuses control characters in an order field and in a path parameter', async () => {
      const body = await signed('POST', '/v1/orders', JSON.stringify(order({ clientOrderId: 'a\u0000' })));
      expect(body.status).toBe(400);
      expect(body.body.error).toMatchObject({ field: 'clientOrderId' });
      const param = await signed('GET', '/v1/orders/abc%00');
      expect(param.status).toBe(400);
      expect(param.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'id' });
    });
  });

  describe('bodies and encodings', () => {
    it('answers a signed JSON body sent as text/plain (or any non-JSON type) with 415', async () => {
      const body = JSON.stringify(order());
      for (const type of ['text/plain', 'text/plain; charset=utf-8', 'application/octet-stream']) {
        const res = await signed('POST', '/v1/orders', body, { 'content-type': type });
        expect({ type, status: res.status }).toEqual({ type, status: 415 });
        expect(res.body.error?.code).toBe('UNSUPPORTED_MEDIA_TYPE');
      }
    });

    it('refuses a Content-Encoding other than identity with 415 (nothing is decoded)', async () => {
      const body = JSON.stringify(order());
      for (const encoding of ['br', 'gzip', 'deflate', 'identity, gzip']) {
        const res = await signed('POST', '/v1/orders', body, { 'content-encoding': encoding });
        expect({ encoding, status: res.status }).toEqual({ encoding, status: 415 });
        expect(res.body.error?.code).toBe('UNSUPPORTED_MEDIA_TYPE');
      }
      const identity = await signed('POST', '/v1/operator/accounts', '{}', {
        'content-encoding': 'identity',
        'x-operator-token': operator,
      });
      expect(identity.status).toBe(400); // admitted, then refused for the empty body only
    });

    it.each([
      ['__proto__', '{"__proto__":{"admin":true},"symbol":"X"}', '__proto__'],
      ['constructor', '{"constructor":{"prototype":{"x":1}}}', 'constructor'],
      ['a nested __proto__', '{"symbol":"X","a":{"b":{"__proto__":{}}}}', 'a.b.__proto__'],
    ])('refuses %s in JSON with 400 naming the key, not "not valid JSON"', async (_what, body, field) => {
      const res = await signed('POST', '/v1/orders', body);
      expect(res.status).toBe(400);
      expect(res.body.error?.field).toBe(field);
      expect(res.body.error?.message).not.toMatch(/not valid JSON/);
    });

    it('refuses duplicate JSON keys with 400 naming the key (the last no longer wins)', async () => {
      const text = `{"symbol":"${symbol}","side":"buy","type":"limit","price":"1.00","quantity":"1","postOnly":true,"side":"sell"}`;
      const res = await signed('POST', '/v1/orders', text);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'MALFORMED_JSON', field: 'side' });
      // Escapes do not hide a duplicate.
      const escaped = await signed(
        'POST',
        '/v1/orders',
        `{"symbol":"${symbol}","side":"buy","type":"limit","price":"1.00","quantity":"1","s\\u0069de":"sell"}`,
      );
      expect(escaped.status).toBe(400);
      expect(escaped.body.error).toMatchObject({ code: 'MALFORMED_JSON', field: 'side' });
      const operatorDup = await operatorPost(
        '/v1/operator/accounts',
        `{"accountId":"edge-dup-${run}","name":"a","name":"b"}`,
      );
      expect(operatorDup.status).toBe(400);
      expect(operatorDup.body.error).toMatchObject({ code: 'MALFORMED_JSON', field: 'name' });
      // The same keys in different objects are fine.
      const nested = await signed('POST', '/v1/orders', '{"a":{"x":1},"b":{"x":1}}');
      expect(nested.body.error?.code).toBe('VALIDATION_FAILED');
    });
  });

  describe("Fastify's own errors in the platform's shape, without echoing input", () => {
    const long = 'q'.repeat(10_000);

    it.each([
      [
        'a 10 KB path parameter',
        `GET /v1/orders/${long} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
        414,
      ],
      [
        'oversized headers',
        `GET /v1/markets HTTP/1.1\r\nHost: x\r\nX-Pad: ${long.repeat(7)}\r\nConnection: close\r\n\r\n`,
        431,
      ],
      ['a bad URL encoding', `GET /v1/orders/%E0%A4%A HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 400],
      [
        'Content-Length with Transfer-Encoding',
        `POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\n` +
          `Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n`,
        400,
      ],
      ['an invalid request line', `GET /v1/markets HTTP/9.9 extra\r\nHost: x\r\n\r\n`, 400],
    ])('%s', async (_what, request, status) => {
      const res = await raw(request);
      expect(res.status).toBe(status);
      expect(res.headers).toContain('content-type: application/json');
      const error = platformError(res.body);
      expect(res.body).not.toContain('qqqq');
      expect(res.body).not.toContain('%E0');
      expect(error.code).not.toMatch(/^FST_/);
    });

    it.each([
      ['PUT', '/v1/orders', 'GET, HEAD, POST'],
      ['POST', '/v1/markets', 'GET, HEAD'],
      ['PUT', `/v1/orders/${randomUUID()}`, 'DELETE, GET, HEAD, PATCH'],
      ['GET', '/v1/operator/deposits', 'POST'],
    ])('answers %s %s with 405 and Allow', async (method, path, allow) => {
      const res = await fetch(`${BASE_URL}${path}`, { method });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe(allow);
      expect(platformError(await res.text()).code).toBe('METHOD_NOT_ALLOWED');
    });

    it('still answers an unknown path with 404', async () => {
      const res = await fetch(`${BASE_URL}/v1/nothing-here`, { method: 'PUT' });
      expect(res.status).toBe(404);
      expect(platformError(await res.text()).code).toBe('NOT_FOUND');
    });

    it('gives every bad cursor the one INVALID_CURSOR code', async () => {
      for (const path of [
        '/v1/ledger?cursor=abc',
        '/v1/ledger?cursor=-1',
        `/v1/orders?cursor=${'A'.repeat(600)}`,
        '/v1/orders?cursor=x',
        `/v1/fills?cursor=${'A'.repeat(600)}`,
        '/v1/fills?cursor=x',
      ]) {
        const res = await signed('GET', path);
        expect({
          path,
          status: res.status,
          code: res.body.error?.code,
          field: res.body.error?.field,
        }).toEqual({
          path,
          status: 400,
          code: 'INVALID_CURSOR',
          field: 'cursor',
        });
      }
    });
  });

  it('accepts decimal integers only for limit and levels', async () => {
    const paths: [string, boolean][] = [
      ['/v1/orders?limit=0x10', true],
      ['/v1/orders?limit=1e2', true],
      ['/v1/orders?limit=%2010', true],
      ['/v1/orders?limit=10.0', true],
      ['/v1/fills?limit=0x10', true],
      ['/v1/ledger?limit=1e2', true],
      [`/v1/markets/${symbol}/depth?levels=0x10`, false],
      [`/v1/markets/${symbol}/depth?levels=1e1`, false],
      [`/v1/markets/${symbol}/trades?limit=0x10`, false],
      [`/v1/markets/${symbol}/candles?limit=0b11`, false],
    ];
    for (const [path, isSigned] of paths) {
      const res = isSigned ? await signed('GET', path) : await api.public<ErrorBody>(path);
      const field = path.includes('levels') ? 'levels' : 'limit';
      expect({ path, status: res.status, field: res.body.error?.field }).toEqual({
        path,
        status: 400,
        field,
      });
    }
    expect((await signed('GET', '/v1/orders?limit=16')).status).toBe(200);
    expect((await api.public(`/v1/markets/${symbol}/depth?levels=16`)).status).toBe(200);
  });

  describe('operator accounts', () => {
    it('answers 409 ACCOUNT_EXISTS for an existing account and issues no key', async () => {
      const keys = async () =>
        (
          (await db.query(`SELECT count(*)::int AS n FROM api_keys WHERE account_id = $1`, [accountId])) as {
            n: number;
          }[]
        )[0].n;
      const before = await keys();
      const again = await operatorPost('/v1/operator/accounts', JSON.stringify({ accountId, name: 'edge' }));
      expect(again.status).toBe(409);
      expect(again.body.error).toMatchObject({ code: 'ACCOUNT_EXISTS', field: 'accountId' });
      expect(again.body).not.toHaveProperty('secret');
      expect(await keys()).toBe(before);
    });

    it('issues another key of an existing account only through its own route', async () => {
      const res = await operatorPost(`/v1/operator/accounts/${accountId}/api-keys`, '');
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ accountId });
      const second = { apiKey: String(res.body.apiKey), secret: String(res.body.secret) };
      expect(second.apiKey).not.toBe(creds.apiKey);
      expect((await api.signed(second, 'GET', '/v1/balances')).status).toBe(200);
      const unknown = await operatorPost(`/v1/operator/accounts/nobody-${run}/api-keys`, '');
      expect(unknown.status).toBe(404);
      expect(unknown.body.error).toMatchObject({ code: 'ACCOUNT_NOT_FOUND', field: 'accountId' });
    });
  });

  it('answers every duplicate subscribe, counts a subscription once and none after the close', async () => {
    const gauge = async (): Promise<number> => {
      const text = await (await fetch(`${BASE_URL}/metrics`)).text();
      const m = /^ws_subscriptions(?:\{[^}]*\})? (\d+)/m.exec(text);
      return m ? Number(m[1]) : NaN;
    };
    const ws = api.stream();
    const channel = `ticker:${symbol}`;
    // One burst: every frame reaches the gateway before the first subscription is confirmed.
    await Promise.all(Array.from({ length: 10 }, () => ws.send({ op: 'subscribe', channel })));
    await api.until(
      'every subscribe answered',
      async () => (ws.messages.length >= 10 ? true : undefined),
      10_000,
    );
    expect(ws.messages.filter((m) => m.type === 'snapshot')).toHaveLength(1);
    expect(ws.messages.filter((m) => m.type === 'error' && m.code === 'ALREADY_SUBSCRIBED')).toHaveLength(9);
    expect(await gauge()).toBe(1);
    ws.close();
    await api.until('gauge back to zero', async () => ((await gauge()) === 0 ? true : undefined), 10_000);
  });
});
