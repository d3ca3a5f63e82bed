import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { DataSource } from 'typeorm';
import { kafkaSchema, loadConfig } from '@trading/config';
import { SIGNATURE_HEADERS, TOPICS } from '@trading/contracts';
import { createKafka } from '@trading/kafka';
import { topicEnds } from './chaos/engine-replay';
import { ExchangeClient, sign, type Credentials, type StreamClient } from './testing/exchange-client';
import {
  ensureServices,
  GATEWAY_URL,
  secret,
  startService,
  stopProcess,
  testPort,
  waitReady,
  type RunningServices,
} from './testing/native-services';
import { openTestMarket } from './testing/test-market';

// Hostile input on every HTTP endpoint and on the WebSocket, stream authorization between two
// accounts, and API key revocation, against the platform on the native stack (real Kafka,
// PostgreSQL, Redis). A hostile request must get a 4xx (never a 5xx), leave the gateway up, put
// nothing on orders.commands.v1 and change nothing in the database.
const api = new ExchangeClient(GATEWAY_URL);
const { hostname: HOST, port: PORT } = new URL(GATEWAY_URL);
const run = randomUUID().replace(/-/g, '').slice(0, 6).toUpperCase();
const symbol = `F${run}-USDT`;
const base = `F${run}`;
const ids = { a: `fz-a-${run}`, b: `fz-b-${run}`, r: `fz-r-${run}` };

type Json = Record<string, unknown>;

/** One request over a raw socket (duplicate or non-ASCII headers fetch would refuse): the status. */
function rawStatus(what: string, request: Buffer | string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: HOST, port: Number(PORT) });
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error('raw request timed out')));
    socket.on('connect', () => socket.write(request));
    socket.on('data', (d: Buffer) => chunks.push(d));
    // The server may answer (431, 413) and reset while the request is still being written.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(Buffer.concat(chunks).toString('latin1'));
      if (m) resolve(Number(m[1]));
      else
        reject(
          new Error(
            `no HTTP status for ${what} in ${Buffer.concat(chunks).toString('latin1').slice(0, 200)}`,
          ),
        );
    });
  });
}

function signedHeaders(
  creds: Credentials,
  method: string,
  path: string,
  body: string,
): Record<string, string> {
  const ts = String(Date.now());
  return {
    [SIGNATURE_HEADERS.apiKey]: creds.apiKey,
    [SIGNATURE_HEADERS.timestamp]: ts,
    [SIGNATURE_HEADERS.signature]: sign(creds.secret, ts, method, path, body),
  };
}

// Hostile scalars for query values, path segments and JSON fields.
const hostileText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.double().map(String),
  fc.bigInt().map(String),
  fc.constantFrom(
    '',
    '-1',
    '0',
    '1e308',
    '1e-308',
    '-0',
    'NaN',
    'Infinity',
    '99999999999999999999999999999999',
    '0x10',
    '1.5',
    'true',
    'null',
    '[]',
    '{}',
    '__proto__',
    'constructor',
    '../../etc/passwd',
    '%00',
    '\u0000',
    '\ud800',
    'BTC-USDT',
    'btc-usdt',
    '1m',
    '1y',
    "' OR 1=1 --",
    'x'.repeat(5000),
  ),
);
const hostileKey = fc.oneof(
  fc.constantFrom(
    '__proto__',
    'constructor',
    'prototype',
    '__proto__[admin]',
    'limit',
    'cursor',
    'symbol',
    'status',
    'asset',
    'levels',
    'interval',
    'from',
    'to',
    'limit[]',
  ),
  fc.string({ minLength: 1, maxLength: 12 }),
);
/** A query string with repeated keys, wrong types, huge numbers, unicode, prototype keys. */
// Lone surrogates cannot be percent-encoded; they become U+FFFD (the raw cases below keep them).
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const enc = (v: string): string => encodeURIComponent(v.replace(LONE_SURROGATE, '\ufffd'));
const hostileQuery = fc.oneof(
  fc
    .array(fc.tuple(hostileKey, hostileText), { minLength: 1, maxLength: 5 })
    .map((pairs) => '?' + pairs.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&')),
  fc.constantFrom(
    '?limit=%zz',
    '?%00=1',
    '?limit=%ud800',
    '?limit=1&limit=2',
    '?limit',
    '?=',
    '?&&&',
    '?a[b][c]=1',
  ),
);
const hostileSegment = hostileText.filter((v) => v.length > 0).map(enc);
/** JSON bodies: any JSON, wrong types, prototype keys, truncated, deep, not JSON at all. */
const hostileBody = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.dictionary(hostileKey, hostileText, { maxKeys: 4 }).map((v) => JSON.stringify(v)),
  fc.constantFrom(
    '{"__proto__":{"admin":true}}',
    '{"constructor":{"prototype":{"x":1}}}',
    '{"price":"1.00"',
    '['.repeat(40) + ']'.repeat(40),
    '{"a":'.repeat(40) + '1' + '}'.repeat(40),
    '{"quantity":"1e308","price":"-0"}',
    '{"makerFeeBps":1e308,"takerFeeBps":-1}',
    '{"makerFeeBps":1.5,"takerFeeBps":"2"}',
    'null',
    '"',
    '',
  ),
  fc.string({ unit: 'binary', maxLength: 200 }),
);
const methods = fc.constantFrom('GET', 'DELETE', 'PATCH', 'POST', 'PUT');

describe('gateway under hostile input', () => {
  jest.setTimeout(240_000);
  let services: RunningServices;
  let db: DataSource;
  let operator: string;
  const creds: Record<keyof typeof ids, Credentials> = {} as never;
  const kafka = createKafka(loadConfig(kafkaSchema), 'security-fuzz-int-spec');

  const balance = async (who: Credentials, asset: string) => (await api.balance(who, asset))?.available;

  /** Row counts and a fee checksum: what a hostile request must not change. */
  const dbState = async (): Promise<Json> =>
    (
      (await db.query(`SELECT
        (SELECT count(*) FROM orders)::int AS orders,
        (SELECT count(*) FROM ledger)::int AS ledger,
        (SELECT count(*) FROM trades)::int AS trades,
        (SELECT coalesce(sum(available + held), 0)::text FROM balances) AS balances,
        (SELECT count(*) FROM accounts)::int AS accounts,
        (SELECT count(*) FILTER (WHERE revoked_at IS NULL) FROM api_keys)::int AS active_keys,
        (SELECT md5(string_agg(symbol || maker_fee_bps || ':' || taker_fee_bps, ',' ORDER BY symbol)) FROM markets) AS fees`)) as Json[]
    )[0];

  const commandEnds = async (): Promise<Record<number, string>> =>
    topicEnds(kafka, TOPICS.orderCommands.name);

  beforeAll(async () => {
    services = await ensureServices();
    operator = secret('operator_token');
    db = await openTestMarket('security-fuzz', symbol, base);
    for (const who of Object.keys(ids) as (keyof typeof ids)[]) {
      const res = await api.operator<Credentials>(operator, 'POST', '/v1/operator/accounts', {
        accountId: ids[who],
        name: who,
      });
      expect(res.status).toBe(201);
      creds[who] = { apiKey: res.body.apiKey, secret: res.body.secret };
      expect(
        (
          await api.operator(operator, 'POST', '/v1/operator/deposits', {
            accountId: ids[who],
            asset: 'USDT',
            amount: '100',
          })
        ).status,
      ).toBe(202);
    }
    await api.until('deposits applied', async () => {
      for (const c of Object.values(creds)) if ((await balance(c, 'USDT')) !== '100') return undefined;
      return true;
    });
    await api.marketsListed([symbol]);
  });

  afterAll(async () => {
    await db?.destroy();
    await services?.stop();
  });

  /** Runs `body`, then checks the gateway is up and nothing reached Kafka or the database. */
  async function leavesNoTrace(body: () => Promise<void>): Promise<void> {
    const [ends, state] = [await commandEnds(), await dbState()];
    await body();
    expect((await fetch(`${GATEWAY_URL}/health/live`)).status).toBe(200);
    // Anything produced would be on the topic by now (the gateway answers after acks=all); the
    // pause lets a command that slipped through reach the router and the database.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await commandEnds()).toEqual(ends);
    expect(await dbState()).toEqual(state);
  }

  const expect4xx = (status: number, what: string): void => {
    if (status < 400 || status >= 500) throw new Error(`${what} answered ${status}`);
  };

  it('answers hostile queries, ids and bodies on every signed endpoint with 4xx (reads: < 500)', async () => {
    const others = (await db.query(`SELECT order_id FROM orders WHERE account_id <> $1 LIMIT 1`, [
      ids.a,
    ])) as {
      order_id: string;
    }[];
    const orderId = fc.oneof(hostileSegment, fc.constantFrom(...others.map((o) => o.order_id), randomUUID()));
    const readPath = fc.oneof(
      hostileQuery.map((q) => `/v1/orders${q}`),
      hostileQuery.map((q) => `/v1/fills${q}`),
      hostileQuery.map((q) => `/v1/ledger${q}`),
      hostileQuery.map((q) => `/v1/balances${q}`),
      fc.tuple(orderId, hostileQuery).map(([id, q]) => `/v1/orders/${id}${q}`),
    );
    await leavesNoTrace(async () => {
      await fc.assert(
        fc.asyncProperty(readPath, fc.boolean(), async (path, signed) => {
          const res = await fetch(`${GATEWAY_URL}${path}`, {
            headers: signed ? signedHeaders(creds.a, 'GET', path, '') : {},
          });
          if (!signed) expect4xx(res.status, `unsigned GET ${path}`);
          else if (res.status >= 500) throw new Error(`GET ${path} answered ${res.status}`);
        }),
        { numRuns: 150 },
      );
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('DELETE', 'PATCH'),
          orderId,
          hostileBody,
          fc.boolean(),
          async (method, id, body, signed) => {
            const path = `/v1/orders/${id}`;
            const payload = method === 'PATCH' ? body : '';
            const res = await fetch(`${GATEWAY_URL}${path}`, {
              method,
              headers: {
                ...(payload ? { 'content-type': 'application/json' } : {}),
                ...(signed ? signedHeaders(creds.a, method, path, payload) : {}),
              },
              body: payload || undefined,
            });
            expect4xx(res.status, `${method} ${path} ${payload.slice(0, 100)}`);
          },
        ),
        { numRuns: 100 },
      );
    });
  });

  it('answers hostile market-data requests below 500', async () => {
    const path = fc.oneof(
      fc
        .tuple(
          fc.oneof(hostileSegment, fc.constant(symbol)),
          fc.constantFrom('depth', 'trades', 'ticker', 'candles'),
          hostileQuery,
        )
        .map(([s, kind, q]) => `/v1/markets/${s}/${kind}${q}`),
      hostileQuery.map((q) => `/v1/markets${q}`),
    );
    await leavesNoTrace(async () => {
      await fc.assert(
        fc.asyncProperty(path, async (p) => {
          const res = await fetch(`${GATEWAY_URL}${p}`);
          if (res.status >= 500) throw new Error(`GET ${p} answered ${res.status}`);
        }),
        { numRuns: 120 },
      );
    });
  });

  it('answers the operator API with 401 without the token and 4xx for hostile bodies with it', async () => {
    // Every body here is invalid by construction or names something that does not exist: an
    // unknown account (deposits), an unknown market (fees), an unknown key (revocation).
    const target = fc.oneof(
      fc.constantFrom('/v1/operator/accounts', '/v1/operator/deposits', '/v1/operator/withdrawals'),
      fc.oneof(hostileSegment, fc.constant(`Z${run}-USDT`)).map((s) => `/v1/operator/markets/${s}/fees`),
      hostileSegment.map((k) => `/v1/operator/api-keys/${k}`),
      hostileSegment.map((s) => `/v1/operator/${s}`),
    );
    const token = fc.oneof(
      fc.constant(undefined),
      fc.constant(operator),
      fc.constantFrom('', operator + 'x', operator.slice(1), 'a'.repeat(4000), operator.toUpperCase()),
    );
    const validLooking = fc.constantFrom(
      JSON.stringify({ accountId: `nobody-${run}`, asset: 'USDT', amount: '1' }),
      JSON.stringify({ accountId: `nobody-${run}`, asset: 'USDT', amount: '1', commandId: 'x' }),
      JSON.stringify({ accountId: ids.a, asset: 'NOPE', amount: '1' }),
      JSON.stringify({ accountId: ids.a, asset: 'USDT', amount: '1e3' }),
      JSON.stringify({ accountId: ids.a, asset: 'USDT', amount: '0.0000001' }),
      JSON.stringify({ accountId: ids.a, asset: 'USDT', amount: '99999999999999999999999999' }),
      JSON.stringify({ accountId: ids.a, name: '' }),
      JSON.stringify({ accountId: '../x', name: 'x' }),
      JSON.stringify({ accountId: ids.a, name: 'x', admin: true }),
      JSON.stringify({ makerFeeBps: 1, takerFeeBps: 2 }),
    );
    await leavesNoTrace(async () => {
      await fc.assert(
        fc.asyncProperty(
          target,
          methods,
          fc.oneof(hostileBody, validLooking),
          token,
          async (path, method, body, tok) => {
            const payload = method === 'GET' || method === 'DELETE' ? '' : body;
            const res = await fetch(`${GATEWAY_URL}${path}`, {
              method,
              headers: {
                ...(payload ? { 'content-type': 'application/json' } : {}),
                ...(tok !== undefined ? { 'x-operator-token': tok } : {}),
              },
              body: payload || undefined,
            });
            expect4xx(res.status, `${method} ${path} token=${tok === operator} ${payload.slice(0, 100)}`);
          },
        ),
        { numRuns: 150 },
      );
      // A well-formed fee update of a market that does not exist changes nothing (was a 200).
      const unknownFees = await fetch(`${GATEWAY_URL}/v1/operator/markets/Z${run}-USDT/fees`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', 'x-operator-token': operator },
        body: JSON.stringify({ makerFeeBps: 1, takerFeeBps: 2 }),
      });
      expect(unknownFees.status).toBe(400);
      expect(await unknownFees.json()).toMatchObject({ error: { code: 'UNKNOWN_SYMBOL', field: 'symbol' } });
      // Requests that would succeed with the token are refused without it or with a wrong one.
      const wouldSucceed: [string, string, Json | undefined][] = [
        ['POST', '/v1/operator/accounts', { accountId: `nobody-${run}`, name: 'x' }],
        ['POST', '/v1/operator/deposits', { accountId: ids.a, asset: 'USDT', amount: '1' }],
        ['POST', '/v1/operator/withdrawals', { accountId: ids.a, asset: 'USDT', amount: '1' }],
        ['PUT', `/v1/operator/markets/${symbol}/fees`, { makerFeeBps: 0, takerFeeBps: 0 }],
        ['DELETE', `/v1/operator/api-keys/${creds.a.apiKey}`, undefined],
      ];
      for (const [method, path, body] of wouldSucceed) {
        for (const tok of [undefined, '', `${operator}x`, operator.slice(0, -1)]) {
          const res = await fetch(`${GATEWAY_URL}${path}`, {
            method,
            headers: {
              ...(body ? { 'content-type': 'application/json' } : {}),
              ...(tok !== undefined ? { 'x-operator-token': tok } : {}),
            },
            body: body ? JSON.stringify(body) : undefined,
          });
          expect({ method, path, status: res.status }).toEqual({ method, path, status: 401 });
        }
      }
    });
  });

  it('answers header abuse with 4xx', async () => {
    const path = '/v1/orders';
    const body = JSON.stringify({ symbol, side: 'buy', type: 'limit', price: '1.00', quantity: '1' });
    const h = signedHeaders(creds.a, 'POST', path, body);
    const head = (extra: string, b = body, ct = 'application/json'): string =>
      `POST ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: ${ct}\r\n` +
      `Content-Length: ${Buffer.byteLength(b)}\r\n${extra}\r\n${b}`;
    const sig = (over: Partial<Record<string, string>> = {}): string =>
      Object.entries({ ...h, ...over })
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
    const deep = '{"a":'.repeat(5000) + '1' + '}'.repeat(5000);
    await leavesNoTrace(async () => {
      const cases: [string, Buffer | string][] = [
        ['oversized header', head(sig() + `X-Pad: ${'a'.repeat(64 * 1024)}\r\n`)],
        ['duplicate X-API-KEY', head(sig() + `${SIGNATURE_HEADERS.apiKey}: ${creds.b.apiKey}\r\n`)],
        [
          'duplicate signature',
          head(sig() + `${SIGNATURE_HEADERS.signature}: ${h[SIGNATURE_HEADERS.signature]}\r\n`),
        ],
        ['non-ASCII key', Buffer.from(head(sig({ [SIGNATURE_HEADERS.apiKey]: 'ключ\u00ff' })), 'utf8')],
        ['latin1 timestamp', Buffer.from(head(sig({ [SIGNATURE_HEADERS.timestamp]: '1\u00e9' })), 'latin1')],
        ['text/plain', head(sig(), body, 'text/plain')],
        ['form body', head(sig(), 'symbol=x', 'application/x-www-form-urlencoded')],
        ['no content type', head(sig(), body, '')],
        ['truncated JSON', head(sig(), body.slice(0, 20))],
        ['deep JSON', head(sig(), deep)],
        ['huge body', head(sig(), JSON.stringify({ pad: 'x'.repeat(200 * 1024) }))],
        ['huge timestamp', head(sig({ [SIGNATURE_HEADERS.timestamp]: '1e308' }))],
        [
          'bad content-length',
          `POST ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: -1\r\n${sig()}\r\n${body}`,
        ],
        ['header injection', head(sig({ [SIGNATURE_HEADERS.apiKey]: `${creds.a.apiKey}\rX-Evil: 1` }))],
      ];
      // The body is a valid order of A's: each case is refused for its abuse alone.
      // The raw client itself works: a plain request gets its 200.
      expect(
        await rawStatus('control', 'GET /v1/markets HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
      ).toBe(200);
      for (const [what, request] of cases) {
        expect4xx(await rawStatus(what, request), what);
      }
    });
  });

  it('refuses control characters in every text input and duplicate JSON keys with 400 naming the field', async () => {
    // A string with one control character (C0, DEL, C1) in it; in JSON bodies also a lone surrogate.
    const printable = fc.string({ maxLength: 8 }).map((v) => v.replace(LONE_SURROGATE, ''));
    const withChar = (code: fc.Arbitrary<number>) =>
      fc.tuple(printable, code, printable).map(([a, c, b]) => a + String.fromCharCode(c) + b);
    const controlCode = fc.oneof(fc.integer({ min: 0, max: 0x1f }), fc.integer({ min: 0x7f, max: 0x9f }));
    const control = withChar(controlCode);
    const controlOrSurrogate = withChar(
      fc.oneof(controlCode, fc.constantFrom(0xd800, 0xdbff, 0xdc00, 0xdfff)),
    );
    const pct = encodeURIComponent;
    const order: Json = {
      symbol,
      side: 'buy',
      type: 'limit',
      price: '1.00',
      quantity: '1',
      clientOrderId: `c${run}`,
    };
    const signedQuery = fc.tuple(
      fc.constantFrom(
        ['/v1/orders', 'symbol'],
        ['/v1/orders', 'status'],
        ['/v1/orders', 'cursor'],
        ['/v1/orders', 'limit'],
        ['/v1/fills', 'symbol'],
        ['/v1/fills', 'cursor'],
        ['/v1/ledger', 'asset'],
        ['/v1/ledger', 'cursor'],
      ),
      control,
    );
    const publicQuery = fc.tuple(
      fc.constantFrom('depth', 'trades', 'candles'),
      fc.constantFrom('levels', 'limit', 'interval', 'from', 'to'),
      control,
    );
    const pathParam = fc.tuple(
      fc.constantFrom(
        ['/v1/orders/', '', 'id'],
        ['/v1/markets/', '/ticker', 'symbol'],
        ['/v1/markets/', '/depth', 'symbol'],
      ),
      control,
    );
    const orderField = fc.tuple(
      fc.constantFrom('symbol', 'side', 'type', 'price', 'quantity', 'clientOrderId'),
      controlOrSurrogate,
    );
    const duplicate = fc.tuple(
      fc.constantFrom(...Object.keys(order)),
      fc.oneof(fc.string({ maxLength: 8 }), fc.constant('sell')),
    );
    const expect400 = async (res: Response, what: string, field: string, code?: string): Promise<void> => {
      const body = (await res.json()) as { error?: { code?: string; field?: string } };
      const got = {
        status: res.status,
        field: body.error?.field,
        ...(code ? { code: body.error?.code } : {}),
      };
      expect({ what, ...got }).toEqual({ what, status: 400, field, ...(code ? { code } : {}) });
    };
    await leavesNoTrace(async () => {
      await fc.assert(
        fc.asyncProperty(signedQuery, async ([[route, key], value]) => {
          const path = `${route}?${key}=${pct(value)}`;
          const res = await fetch(`${GATEWAY_URL}${path}`, {
            headers: signedHeaders(creds.a, 'GET', path, ''),
          });
          await expect400(res, `GET ${path}`, key, key === 'cursor' ? 'INVALID_CURSOR' : undefined);
        }),
        { numRuns: 60 },
      );
      await fc.assert(
        fc.asyncProperty(publicQuery, async ([kind, key, value]) => {
          const path = `/v1/markets/${symbol}/${kind}?${key}=${pct(value)}`;
          await expect400(await fetch(`${GATEWAY_URL}${path}`), `GET ${path}`, key);
        }),
        { numRuns: 40 },
      );
      await fc.assert(
        fc.asyncProperty(pathParam, async ([[before, after, field], value]) => {
          const path = `${before}${pct(value)}${after}`;
          const res = await fetch(`${GATEWAY_URL}${path}`, {
            headers: signedHeaders(creds.a, 'GET', path, ''),
          });
          await expect400(res, `GET ${path}`, field);
        }),
        { numRuns: 40 },
      );
      await fc.assert(
        fc.asyncProperty(orderField, async ([field, value]) => {
          const body = JSON.stringify({ ...order, [field]: value });
          const res = await fetch(`${GATEWAY_URL}/v1/orders`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              ...signedHeaders(creds.a, 'POST', '/v1/orders', body),
            },
            body,
          });
          await expect400(res, `order ${field}=${JSON.stringify(value)}`, field, 'VALIDATION_FAILED');
        }),
        { numRuns: 60 },
      );
      await fc.assert(
        fc.asyncProperty(fc.constantFrom('accountId', 'name'), controlOrSurrogate, async (field, value) => {
          const body = JSON.stringify({ accountId: `nobody-${run}`, name: 'x', [field]: value });
          const res = await fetch(`${GATEWAY_URL}/v1/operator/accounts`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-operator-token': operator },
            body,
          });
          await expect400(res, `account ${field}=${JSON.stringify(value)}`, field, 'VALIDATION_FAILED');
        }),
        { numRuns: 30 },
      );
      // The same key twice, whatever its second value: refused, never "the last wins".
      await fc.assert(
        fc.asyncProperty(duplicate, fc.boolean(), async ([key, value], operatorBody) => {
          if (operatorBody) {
            const body = `{"accountId":"nobody-${run}","name":"x",${JSON.stringify(key === 'side' ? 'name' : 'accountId')}:${JSON.stringify(value)}}`;
            const res = await fetch(`${GATEWAY_URL}/v1/operator/accounts`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', 'x-operator-token': operator },
              body,
            });
            await expect400(res, body, key === 'side' ? 'name' : 'accountId', 'MALFORMED_JSON');
            return;
          }
          const body = `${JSON.stringify(order).slice(0, -1)},${JSON.stringify(key)}:${JSON.stringify(value)}}`;
          const res = await fetch(`${GATEWAY_URL}/v1/orders`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              ...signedHeaders(creds.a, 'POST', '/v1/orders', body),
            },
            body,
          });
          await expect400(res, body, key, 'MALFORMED_JSON');
        }),
        { numRuns: 60 },
      );
    });
  });

  it('answers hostile WebSocket frames with an error or by closing that socket only', async () => {
    const bystander = api.stream();
    await bystander.send({ op: 'subscribe', channel: `ticker:${symbol}` });
    await bystander.waitFor((m) => m.type === 'snapshot');
    const frame = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.record({ op: hostileText }).map((v) => JSON.stringify(v)),
      fc
        .tuple(
          fc.constantFrom('subscribe', 'unsubscribe'),
          fc.oneof(
            hostileText,
            fc.constantFrom(`orders:${ids.b}`, 'orders:*', 'depth:*', `ticker:${symbol}:x`, 'orders '),
          ),
        )
        .map(([op, channel]) => JSON.stringify({ op, channel })),
      fc
        .record({
          apiKey: hostileText,
          timestamp: fc.oneof(hostileText, fc.double()),
          signature: hostileText,
        })
        .map((v) => JSON.stringify({ op: 'auth', ...v })),
      fc.constantFrom(
        '',
        'x'.repeat(64 * 1024),
        '['.repeat(5000) + ']'.repeat(5000),
        '['.repeat(20_000) + ']'.repeat(20_000),
        '{"op":"ping","x":1}',
        '{"op":"subscribe","channel":"orders"}',
        '{"__proto__":{"op":"ping"}}',
        '{"op":"auth","apiKey":"k","timestamp":-1,"signature":"s"}',
      ),
    );
    await leavesNoTrace(async () => {
      await fc.assert(
        fc.asyncProperty(frame, async (data) => {
          const ws = api.stream();
          try {
            await ws.sendRaw(data);
            for (const started = Date.now(); ; await new Promise((r) => setTimeout(r, 10))) {
              if (ws.closeCode !== null || ws.messages.some((m) => m.type === 'error')) break;
              if (Date.now() - started > 10_000) throw new Error('neither an error frame nor a close');
            }
            expect(ws.messages.every((m) => m.type === 'error')).toBe(true);
          } finally {
            ws.close();
          }
        }),
        { numRuns: 80 },
      );
    });
    // The bystander's connection is intact and still answers.
    expect(bystander.closeCode).toBeNull();
    await bystander.send({ op: 'ping' });
    await bystander.waitFor((m) => m.type === 'pong', 10_000);
    bystander.close();
  });

  it("streams an account its own order updates and never another account's", async () => {
    const streams: Record<'a' | 'b', StreamClient> = { a: api.stream(), b: api.stream() };
    for (const who of ['a', 'b'] as const) {
      await streams[who].auth(creds[who]);
      await streams[who].waitFor((m) => m.type === 'authenticated' && m.accountId === ids[who]);
      await streams[who].send({ op: 'subscribe', channel: 'orders' });
      await streams[who].waitFor((m) => m.type === 'snapshot' && m.channel === 'orders');
    }
    // Another account's channel cannot be named.
    for (const [channel, code] of [
      [`orders:${ids.b}`, 'UNKNOWN_CHANNEL'],
      [`orders:${ids.a}`, 'UNKNOWN_CHANNEL'],
      [`ticker:orders:${ids.b}`, 'UNKNOWN_SYMBOL'],
    ]) {
      await streams.a.send({ op: 'subscribe', channel });
      await streams.a.waitFor((m) => m.type === 'error' && m.channel === channel && m.code === code);
    }
    const order = { symbol, side: 'buy', type: 'limit', price: '1.00', quantity: '1' };
    const placedB = await api.signed<Json>(creds.b, 'POST', '/v1/orders', order);
    expect(placedB.status).toBe(202);
    const bOrder = String(placedB.body.orderId);
    const seen = (s: StreamClient, id: string, status: string) =>
      s.waitFor(
        (m) => m.type === 'update' && (m.data as Json)?.orderId === id && (m.data as Json)?.status === status,
      );
    await seen(streams.b, bOrder, 'new');
    expect((await api.signed(creds.b, 'DELETE', `/v1/orders/${bOrder}`)).status).toBe(202);
    await seen(streams.b, bOrder, 'cancelled');
    // A's own order, placed after B's updates were published: once A sees it, B's would have come.
    const placedA = await api.signed<Json>(creds.a, 'POST', '/v1/orders', order);
    expect(placedA.status).toBe(202);
    await seen(streams.a, String(placedA.body.orderId), 'new');
    // A's own refusals name the channels it asked for; everything else must not mention B.
    const aText = JSON.stringify(streams.a.messages.filter((m) => m.type !== 'error'));
    expect(aText).not.toContain(bOrder);
    expect(aText).not.toContain(ids.b);
    expect(JSON.stringify(streams.b.messages)).not.toContain(String(placedA.body.orderId));
    for (const s of Object.values(streams)) s.close();
  });

  it('refuses a revoked API key at once and leaves its account untouched', async () => {
    const account = async (): Promise<Json> =>
      (
        (await db.query(
          `SELECT (SELECT json_agg(b ORDER BY asset) FROM balances b WHERE account_id = $1) AS balances,
                  (SELECT count(*) FROM ledger WHERE account_id = $1)::int AS ledger,
                  (SELECT count(*) FROM orders WHERE account_id = $1)::int AS orders,
                  (SELECT count(*) FROM accounts WHERE account_id = $1)::int AS accounts`,
          [ids.r],
        )) as Json[]
      )[0];
    // A second key of the same account, which must keep working (creating the account again is
    // 409 ACCOUNT_EXISTS and issues nothing).
    const again = await api.operator(operator, 'POST', '/v1/operator/accounts', {
      accountId: ids.r,
      name: 'r',
    });
    expect(again.status).toBe(409);
    const second = await api.operator<Credentials>(
      operator,
      'POST',
      `/v1/operator/accounts/${ids.r}/api-keys`,
      undefined,
    );
    expect(second.status).toBe(201);
    expect((await api.signed(creds.r, 'GET', '/v1/balances')).status).toBe(200); // cached now
    const before = await account();
    const path = `/v1/operator/api-keys/${creds.r.apiKey}`;
    const unauthorized = await fetch(`${GATEWAY_URL}${path}`, { method: 'DELETE' });
    expect(unauthorized.status).toBe(401);
    expect((await api.signed(creds.r, 'GET', '/v1/balances')).status).toBe(200);

    const revoked = await fetch(`${GATEWAY_URL}${path}`, {
      method: 'DELETE',
      headers: { 'x-operator-token': operator },
    });
    expect(revoked.status).toBe(204);
    const refused = await api.signed<{ error: { code: string } }>(creds.r, 'GET', '/v1/balances');
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe('INVALID_API_KEY');
    const placed = await api.signed<{ error: { code: string } }>(creds.r, 'POST', '/v1/orders', {
      symbol,
      side: 'buy',
      type: 'limit',
      price: '1.00',
      quantity: '1',
    });
    expect(placed.body.error.code).toBe('INVALID_API_KEY');
    const [row] = (await db.query(`SELECT revoked_at FROM api_keys WHERE key_id = $1`, [creds.r.apiKey])) as {
      revoked_at: Date | null;
    }[];
    expect(row.revoked_at).toBeInstanceOf(Date);
    // Again: still 204; an unknown key: 404.
    expect(
      (await fetch(`${GATEWAY_URL}${path}`, { method: 'DELETE', headers: { 'x-operator-token': operator } }))
        .status,
    ).toBe(204);
    const unknown = await fetch(`${GATEWAY_URL}/v1/operator/api-keys/nokey-${run}`, {
      method: 'DELETE',
      headers: { 'x-operator-token': operator },
    });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('API_KEY_NOT_FOUND');

    const other = await api.signed<{ data: { asset: string; available: string }[] }>(
      second.body,
      'GET',
      '/v1/balances',
    );
    expect(other.status).toBe(200);
    expect(other.body.data.find((b) => b.asset === 'USDT')?.available).toBe('100');
    expect(await account()).toEqual(before);
  });

  describe('at the edge: signature case, forwarded headers, aborted bodies', () => {
    // A gateway of its own: few in-flight slots (a leak shows at once), no trusted proxy, and its
    // request lines in a file.
    const port = testPort(18784);
    const edgeUrl = `http://127.0.0.1:${port}`;
    const logFile = join(mkdtempSync(join(tmpdir(), 'edge-fuzz-')), 'gateway.log');
    let logFd: number;
    let edge: ReturnType<typeof startService>;

    beforeAll(async () => {
      logFd = openSync(logFile, 'a');
      edge = startService(
        'api-gateway',
        port,
        'edge-fuzz',
        { MAX_IN_FLIGHT: '8', LOG_LEVEL: 'debug', TRUSTED_PROXIES: '' },
        logFd,
      );
      await waitReady(port, edge);
    });

    afterAll(async () => {
      if (edge) await stopProcess(edge);
      if (logFd !== undefined) closeSync(logFd);
    });

    /** Twenty plain requests in a row are served: no in-flight slot was lost. */
    const servesAll = async (): Promise<void> => {
      const statuses: number[] = [];
      for (let i = 0; i < 20; i++) statuses.push((await fetch(`${edgeUrl}/v1/markets`)).status);
      expect(statuses).toEqual(statuses.map(() => 200));
    };

    it('refuses every case variant of a used signature, whatever the header names look like', async () => {
      const recase = (text: string, mask: boolean[]): string =>
        [...text].map((c, i) => (mask[i % mask.length] ? c.toUpperCase() : c.toLowerCase())).join('');
      await leavesNoTrace(async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.array(fc.array(fc.boolean(), { minLength: 1, maxLength: 64 }), { minLength: 1, maxLength: 3 }),
            fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }),
            fc.boolean(),
            async (masks, nameMask, upperFirst) => {
              const path = `/v1/balances?case=${randomUUID()}`;
              const h = signedHeaders(creds.a, 'GET', path, '');
              const sig = h[SIGNATURE_HEADERS.signature];
              const send = (signature: string) =>
                fetch(`${edgeUrl}${path}`, {
                  headers: {
                    [recase(SIGNATURE_HEADERS.apiKey, nameMask)]: h[SIGNATURE_HEADERS.apiKey],
                    [recase(SIGNATURE_HEADERS.timestamp, nameMask)]: h[SIGNATURE_HEADERS.timestamp],
                    [recase(SIGNATURE_HEADERS.signature, nameMask)]: signature,
                  },
                });
              // Either case is a valid signature; whichever comes first is the one admitted.
              const first = await send(upperFirst ? sig.toUpperCase() : sig);
              expect(first.status).toBe(200);
              for (const variant of [...masks.map((m) => recase(sig, m)), sig, sig.toUpperCase()]) {
                const res = await send(variant);
                const code = ((await res.json()) as { error?: { code: string } }).error?.code;
                expect([variant, res.status, code]).toEqual([variant, 401, 'REPLAYED_REQUEST']);
              }
            },
          ),
          { numRuns: 40 },
        );
      });
    });

    it('ignores forwarded headers from an untrusted peer: the socket address is the client', async () => {
      const address = fc.oneof(
        fc.ipV4(),
        fc.ipV6(),
        fc.constantFrom(
          'unknown',
          '_hidden',
          '1.2.3.4:80',
          '[::1]:443',
          '999.1.1.1',
          '',
          ' , ',
          'x'.repeat(4000),
        ),
        hostileText,
      );
      const forwarded = fc.record(
        {
          'x-forwarded-for': fc.array(address, { minLength: 1, maxLength: 6 }).map((a) => a.join(', ')),
          forwarded: address.map((a) => `for=${a};proto=https;by=${a}`),
          'x-real-ip': address,
          'x-forwarded-host': fc.constantFrom('evil.example', 'localhost:1', ''),
          'x-forwarded-proto': fc.constantFrom('https', 'javascript', ''),
        },
        { requiredKeys: [] },
      );
      const sent = new Set<string>();
      await leavesNoTrace(async () => {
        await fc.assert(
          fc.asyncProperty(forwarded, fc.boolean(), async (headers, signed) => {
            const clean = Object.fromEntries(
              Object.entries(headers)
                .map(([k, v]) => [k, v.replace(/[^\x20-\x7e]/g, '')] as const)
                .filter(([, v]) => v !== ''),
            );
            for (const v of Object.values(clean)) if (/^[0-9a-f.:]{7,}$/i.test(v)) sent.add(v);
            const path = signed ? '/v1/balances' : '/v1/markets';
            const res = await fetch(`${edgeUrl}${path}`, {
              headers: { ...clean, ...(signed ? signedHeaders(creds.b, 'GET', path, '') : {}) },
            });
            expect([200, 429]).toContain(res.status);
          }),
          { numRuns: 120 },
        );
      });
      // Every request line names the peer, never an address a header claimed.
      await new Promise((r) => setTimeout(r, 200));
      const addresses = readFileSync(logFile, 'utf8')
        .split('\n')
        .filter((l) => l.includes('request completed'))
        .map((l) => (JSON.parse(l) as { req: { remoteAddress: string } }).req.remoteAddress);
      expect(addresses.length).toBeGreaterThan(0);
      expect([...new Set(addresses)]).toEqual(['127.0.0.1']);
      expect(sent.size).toBeGreaterThan(0);
    });

    it('gives back the in-flight slot of every aborted body (closed, reset, half-closed, chunked)', async () => {
      const abort = fc.record({
        target: fc.constantFrom<[string, string]>(
          ['POST', '/v1/orders'],
          ['PATCH', `/v1/orders/${randomUUID()}`],
          ['POST', '/v1/operator/deposits'],
        ),
        declared: fc.integer({ min: 1, max: 60 * 1024 }),
        fraction: fc.double({ min: 0, max: 0.99, noNaN: true }),
        chunked: fc.boolean(),
        signed: fc.boolean(),
        close: fc.constantFrom('destroy', 'reset', 'end'),
        wait: fc.integer({ min: 0, max: 40 }),
      });
      await leavesNoTrace(async () => {
        await fc.assert(
          fc.asyncProperty(abort, async (a) => {
            const [method, path] = a.target;
            const body = JSON.stringify({ symbol, side: 'buy', type: 'limit', price: '1.00', quantity: '1' })
              .padEnd(a.declared, ' ')
              .slice(0, a.declared);
            const part = body.slice(0, Math.floor(a.declared * a.fraction));
            const sig = a.signed ? signedHeaders(creds.a, method, path, body) : {};
            const head =
              `${method} ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
              (a.chunked ? 'Transfer-Encoding: chunked\r\n' : `Content-Length: ${a.declared}\r\n`) +
              Object.entries(sig)
                .map(([k, v]) => `${k}: ${v}\r\n`)
                .join('') +
              '\r\n';
            const socket = createConnection({ host: '127.0.0.1', port });
            socket.on('error', () => undefined);
            await once(socket, 'connect');
            socket.write(head + (a.chunked && part ? `${part.length.toString(16)}\r\n${part}\r\n` : part));
            await new Promise((r) => setTimeout(r, a.wait));
            if (a.close === 'reset') socket.resetAndDestroy();
            else if (a.close === 'end') {
              // Half-closed first: the gateway may hold such a socket until its request timeout.
              socket.end();
              await new Promise((r) => setTimeout(r, 50));
              socket.destroy();
            } else socket.destroy();
          }),
          { numRuns: 60 },
        );
        // Sixty aborts on a gateway with 8 slots: had one slot leaked per abort, this is all 503.
        await new Promise((r) => setTimeout(r, 300));
        await servesAll();
      });
    });
  });

  it('sheds requests beyond MAX_IN_FLIGHT with 503 and Retry-After, and serves again after', async () => {
    const port = testPort(18781);
    const small = startService('api-gateway', port, 'shedding', { MAX_IN_FLIGHT: '2' });
    try {
      await waitReady(port, small);
      // Candles read PostgreSQL: many requests wait on it at once.
      const url = `http://127.0.0.1:${port}/v1/markets/${symbol}/candles?interval=1m`;
      const answers = await Promise.all(
        Array.from({ length: 60 }, () =>
          fetch(url).then((r) => ({ status: r.status, retry: r.headers.get('retry-after') })),
        ),
      );
      const shed = answers.filter((a) => a.status === 503);
      expect(shed.length).toBeGreaterThan(0);
      expect(shed.every((a) => a.retry === '1')).toBe(true);
      expect(answers.every((a) => a.status === 200 || a.status === 503)).toBe(true);
      expect((await fetch(url)).status).toBe(200);
    } finally {
      await stopProcess(small);
    }
  });
});
