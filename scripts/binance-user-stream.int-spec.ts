import { createRequire } from 'node:module';
import {
  type BinanceVenue,
  binanceCall,
  type Credentials,
  freshBase,
  GATEWAY_URL,
  openBinanceVenue,
  until,
} from './testing/binance-clients';
import { secret } from './testing/native-services';

// Binance's user data stream the listenKey way, with no client library: POST/PUT/DELETE
// /api/v3/userDataStream by raw HTTP (X-MBX-APIKEY only), then a raw WebSocket (the `ws`
// package) on /ws/<listenKey> and /stream?streams=<listenKey>, against the native platform.
// Orders go through the real pipeline (Kafka, matching, settlement).

interface TestSocket {
  close(): void;
  on(event: 'open', cb: () => void): void;
  on(event: 'message', cb: (data: Buffer) => void): void;
  on(event: 'close', cb: (code: number) => void): void;
  on(event: 'error', cb: (err: Error) => void): void;
}
const { WebSocket } = createRequire(__filename)('ws') as { WebSocket: new (url: string) => TestSocket };

type Frame = Record<string, unknown>;

/** A raw WebSocket: its frames as parsed JSON, in order, and its close code once closed. */
async function connect(
  path: string,
): Promise<{ ws: TestSocket; frames: Frame[]; closed: () => number | null }> {
  const ws = new WebSocket(`${GATEWAY_URL.replace(/^http/, 'ws')}${path}`);
  const frames: Frame[] = [];
  let code: number | null = null;
  ws.on('message', (data) => frames.push(JSON.parse(data.toString('utf8')) as Frame));
  ws.on('close', (c) => (code = c));
  await new Promise<void>((resolve, reject) => {
    ws.on('open', () => resolve());
    ws.on('error', () => reject(new Error(`cannot connect to ${path}`)));
  });
  return { ws, frames, closed: () => code };
}

const events = (frames: Frame[], e: string) => frames.filter((f) => f.e === e);

describe('Binance user data stream by listenKey (/api/v3/userDataStream, /ws/<listenKey>), raw HTTP and ws', () => {
  jest.setTimeout(180_000);
  let venue: BinanceVenue;
  let maker: Credentials;
  let taker: Credentials;

  const listenKeyOf = async (creds: Credentials): Promise<string> => {
    const res = await binanceCall<{ listenKey: string }>('POST', '/api/v3/userDataStream', {}, creds);
    expect(res.status).toBe(200);
    return res.body.listenKey;
  };

  beforeAll(async () => {
    venue = await openBinanceVenue('listenkey', freshBase('U'));
    maker = await venue.account('maker', { [venue.base]: '2' });
    taker = await venue.account('taker', { USDT: '1000' });
  });

  afterAll(async () => {
    await venue?.close();
  });

  it('POST /api/v3/userDataStream with X-MBX-APIKEY only: {listenKey}, the same again; PUT keeps it alive; refusals are Binance errors', async () => {
    const listenKey = await listenKeyOf(maker);
    expect(listenKey).toMatch(/^[A-Za-z0-9]{64}$/);
    expect(await listenKeyOf(maker)).toBe(listenKey);
    expect(await listenKeyOf(taker)).not.toBe(listenKey);
    expect(await binanceCall('PUT', '/api/v3/userDataStream', { listenKey }, maker)).toEqual({
      status: 200,
      body: {},
    });
    const refusals = [
      await binanceCall('POST', '/api/v3/userDataStream'),
      await binanceCall('POST', '/api/v3/userDataStream', {}, { apiKey: 'ak_nosuchkey', secret: '' }),
      await binanceCall('PUT', '/api/v3/userDataStream', {}, maker),
      await binanceCall('PUT', '/api/v3/userDataStream', { listenKey: 'A'.repeat(64) }, maker),
      // Another account's listenKey does not exist for this one.
      await binanceCall('PUT', '/api/v3/userDataStream', { listenKey }, taker),
      await binanceCall('DELETE', '/api/v3/userDataStream', { listenKey }, taker),
      await binanceCall('POST', '/api/v3/userDataStream', { listenKeys: 'x' }, maker),
    ];
    expect(refusals).toEqual([
      { status: 401, body: { code: -2014, msg: 'API-key format invalid.' } },
      { status: 401, body: { code: -2015, msg: expect.any(String) } },
      { status: 400, body: { code: -1102, msg: expect.stringContaining("'listenKey'") } },
      { status: 400, body: { code: -1125, msg: 'This listenKey does not exist.' } },
      { status: 400, body: { code: -1125, msg: 'This listenKey does not exist.' } },
      { status: 400, body: { code: -1125, msg: 'This listenKey does not exist.' } },
      { status: 400, body: { code: -1103, msg: "An unknown parameter was sent: 'listenKeys'." } },
    ]);
    // Nothing refused changed the key: it is still the maker's.
    expect(await binanceCall('PUT', '/api/v3/userDataStream', { listenKey }, maker)).toEqual({
      status: 200,
      body: {},
    });
  });

  it('a raw ws client on /ws/<listenKey> gets executionReport (NEW, then TRADE with its fee) and outboundAccountPosition for a placed order and its fill', async () => {
    const makerStream = await connect(`/ws/${await listenKeyOf(maker)}`);
    // The taker's through a combined stream: each event as {stream: listenKey, data}.
    const takerKey = await listenKeyOf(taker);
    const takerStream = await connect(`/stream?streams=${takerKey}`);
    await new Promise((r) => setTimeout(r, 500));

    const ask = await binanceCall<{ orderId: number }>(
      'POST',
      '/api/v3/order',
      {
        symbol: venue.symbol,
        side: 'SELL',
        type: 'LIMIT',
        timeInForce: 'GTC',
        quantity: '0.5',
        price: '100',
      },
      maker,
      true,
    );
    expect(ask.status).toBe(200);
    const placed = await until('the maker’s NEW', async () =>
      events(makerStream.frames, 'executionReport').find((e) => e.x === 'NEW'),
    );
    expect(placed).toMatchObject({
      s: venue.symbol,
      S: 'SELL',
      o: 'LIMIT',
      f: 'GTC',
      q: '0.5',
      p: '100',
      x: 'NEW',
      X: 'NEW',
      i: ask.body.orderId,
      l: '0',
      z: '0',
      w: true,
    });
    const afterPlace = await until('the maker’s balances after placing', async () =>
      events(makerStream.frames, 'outboundAccountPosition').at(0),
    );
    expect(afterPlace.B).toEqual([{ a: venue.base, f: '1.5', l: '0.5' }]);

    const bid = await binanceCall<{ orderId: number; status: string }>(
      'POST',
      '/api/v3/order',
      { symbol: venue.symbol, side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', quantity: '0.2', price: '101' },
      taker,
      true,
    );
    expect(bid.status).toBe(200);
    const takerEvents = () =>
      takerStream.frames.filter((f) => f.stream === takerKey).map((f) => f.data as Frame);
    const takerFill = await until('the taker’s TRADE', async () =>
      events(takerEvents(), 'executionReport').find((e) => e.x === 'TRADE'),
    );
    expect(takerFill).toMatchObject({
      s: venue.symbol,
      S: 'BUY',
      i: bid.body.orderId,
      x: 'TRADE',
      X: 'FILLED',
      l: '0.2',
      L: '100',
      z: '0.2',
      Z: '20',
      Y: '20',
      // 20 bps taker fee, in the quote asset.
      n: '0.04',
      N: 'USDT',
      m: false,
    });
    const takerBalances = await until('the taker’s balances after the fill', async () =>
      events(takerEvents(), 'outboundAccountPosition').at(-1),
    );
    expect(takerBalances.B).toEqual(
      expect.arrayContaining([
        { a: venue.base, f: '0.2', l: '0' },
        { a: 'USDT', f: '979.96', l: '0' },
      ]),
    );

    const makerFill = await until('the maker’s TRADE', async () =>
      events(makerStream.frames, 'executionReport').find((e) => e.x === 'TRADE'),
    );
    expect(makerFill).toMatchObject({
      i: ask.body.orderId,
      X: 'PARTIALLY_FILLED',
      l: '0.2',
      L: '100',
      z: '0.2',
      // 10 bps maker fee on the USDT received.
      n: '0.02',
      N: 'USDT',
      m: true,
      t: takerFill.t,
    });
    await until('the maker’s balances after the fill', async () =>
      events(makerStream.frames, 'outboundAccountPosition').find((e) =>
        (e.B as { a: string; f: string }[]).some((b) => b.a === 'USDT' && b.f === '19.98'),
      ),
    );

    // Canceled: one more report, CANCELED, its hold released.
    const cancel = await binanceCall(
      'DELETE',
      '/api/v3/order',
      { symbol: venue.symbol, orderId: String(ask.body.orderId) },
      maker,
      true,
    );
    expect(cancel.status).toBe(200);
    const canceled = await until('the maker’s CANCELED', async () =>
      events(makerStream.frames, 'executionReport').find((e) => e.x === 'CANCELED'),
    );
    expect(canceled).toMatchObject({ i: ask.body.orderId, X: 'CANCELED', z: '0.2' });
    makerStream.ws.close();
    takerStream.ws.close();
  });

  it('an unknown listenKey on /ws/<listenKey>: -1125 and the socket closed; DELETE /api/v3/userDataStream while connected: listenKeyExpired, then the close', async () => {
    const unknown = await connect(`/ws/${'Z'.repeat(64)}`);
    await until('the close', async () => unknown.closed() ?? undefined);
    expect(unknown.frames).toEqual([
      { error: { code: -1125, msg: 'This listenKey does not exist.' }, id: null },
    ]);
    expect(unknown.closed()).toBe(1008);

    const listenKey = await listenKeyOf(taker);
    const stream = await connect(`/ws/${listenKey}`);
    expect(await binanceCall('DELETE', '/api/v3/userDataStream', { listenKey }, taker)).toEqual({
      status: 200,
      body: {},
    });
    expect(await binanceCall('PUT', '/api/v3/userDataStream', { listenKey }, taker)).toMatchObject({
      status: 400,
      body: { code: -1125 },
    });
    // A connected listenKey is checked at least every 30 s.
    const expired = await until(
      'listenKeyExpired',
      async () => events(stream.frames, 'listenKeyExpired').at(0),
      40_000,
    );
    expect(expired).toEqual({ e: 'listenKeyExpired', E: expect.any(Number), listenKey });
    await until('the close', async () => stream.closed() ?? undefined);
    expect(stream.closed()).toBe(1000);
    // A new POST starts a new listenKey.
    expect(await listenKeyOf(taker)).not.toBe(listenKey);
  });

  it('revoking the API key (DELETE /v1/operator/api-keys/:keyId) ends its listenKey stream: listenKeyExpired, then -1125 to a new connection', async () => {
    const holder = await venue.account('revoked', {});
    const listenKey = await listenKeyOf(holder);
    const stream = await connect(`/ws/${listenKey}`);
    const res = await fetch(`${GATEWAY_URL}/v1/operator/api-keys/${holder.apiKey}`, {
      method: 'DELETE',
      headers: { 'x-operator-token': secret('operator_token') },
    });
    expect(res.status).toBeLessThan(300);
    // Seen within the key cache's TTL (30 s) and the stream's check (30 s).
    const expired = await until(
      'listenKeyExpired after the revocation',
      async () => events(stream.frames, 'listenKeyExpired').at(0),
      75_000,
    );
    expect(expired).toEqual({ e: 'listenKeyExpired', E: expect.any(Number), listenKey });
    const again = await connect(`/ws/${listenKey}`);
    await until('the close', async () => again.closed() ?? undefined);
    expect(again.frames).toEqual([
      { error: { code: -1125, msg: 'This listenKey does not exist.' }, id: null },
    ]);
  });
});
