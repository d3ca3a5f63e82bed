import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as ccxt from 'ccxt';
import {
  type BinanceVenue,
  type Credentials,
  freshBase,
  GATEWAY_URL,
  openBinanceVenue,
  until,
} from './testing/binance-clients';
import { seedDemoPlatform } from './testing/native-services';

// The real ccxt pro (ccxt.pro.binance, the npm package's WebSocket half) against the gateway's
// Binance-shaped streams on the native platform: its REST and WebSocket URLs changed, nothing
// else. ccxt connects to <urls.api.ws.spot>/<n> and sends {"method":"SUBSCRIBE",...}; the depth
// events are synchronised against GET /api/v3/depth as ccxt does it for Binance. Test names name
// the ccxt calls they make.
interface TestSocket {
  send(data: string): void;
  close(): void;
  on(event: 'open', cb: () => void): void;
  on(event: 'message', cb: (data: Buffer) => void): void;
  on(event: 'error', cb: (err: Error) => void): void;
}
const { WebSocket } = createRequire(__filename)('ws') as { WebSocket: new (url: string) => TestSocket };

const WS_URL = `${GATEWAY_URL.replace(/^http/, 'ws')}/ws`;
const WS_API_URL = `${GATEWAY_URL.replace(/^http/, 'ws')}/ws-api/v3`;
const base = freshBase('W');
const symbol = `${base}/USDT`;
const streamSymbol = `${base}USDT`.toLowerCase();

type BinancePro = InstanceType<typeof ccxt.pro.binance>;

/**
 * ccxt.pro.binance pointed at this gateway: the configuration docs/api.md shows. ccxt refuses a
 * plain ws:// URL until its HTTP agent is loaded (loadHttpProxyAgent); wss:// needs nothing.
 */
async function binancePro(creds: Partial<Credentials> = {}): Promise<BinancePro> {
  const exchange = new ccxt.pro.binance({
    apiKey: creds.apiKey,
    secret: creds.secret,
    urls: {
      api: {
        public: `${GATEWAY_URL}/api/v3`,
        private: `${GATEWAY_URL}/api/v3`,
        ws: { spot: WS_URL, 'ws-api': { spot: WS_API_URL } },
      },
    },
    options: { fetchMarkets: { types: ['spot'] }, fetchCurrencies: false, fetchMargins: false },
  });
  await exchange.loadHttpProxyAgent();
  return exchange;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs `action` with a ccxt watch pending, then watches until `done` accepts what ccxt holds:
 * each watch resolves on the next update, so `current` (ccxt's cache) is checked too, in case
 * the last update came between two watch calls.
 */
async function watchUntil<T>(
  what: string,
  watch: () => Promise<T>,
  current: () => T | undefined,
  done: (value: T) => boolean,
  action: () => Promise<unknown> = async () => undefined,
): Promise<T> {
  let pending = watch();
  pending.catch(() => undefined);
  await action();
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const value = await Promise.race([pending, sleep(1000).then(() => undefined)]);
    if (value !== undefined) {
      pending = watch();
      pending.catch(() => undefined);
      if (done(value)) return value;
    }
    const held = current();
    if (held !== undefined && done(held)) return held;
  }
  throw new Error(`${what}: not seen within 30 s`);
}

/** The orders ccxt keeps from the account's events (what watchOrders resolves with). */
const ordersHeld = (ex: BinancePro): ccxt.Order[] | undefined =>
  ex.orders ? [...(ex.orders as unknown as ccxt.Order[])] : undefined;

/** A raw WebSocket client: its frames as parsed JSON, in order. */
async function connect(path: string): Promise<{ ws: TestSocket; frames: Record<string, unknown>[] }> {
  const ws = new WebSocket(`${GATEWAY_URL.replace(/^http/, 'ws')}${path}`);
  const frames: Record<string, unknown>[] = [];
  ws.on('message', (data) => frames.push(JSON.parse(data.toString('utf8')) as Record<string, unknown>));
  await new Promise<void>((resolve, reject) => {
    ws.on('open', () => resolve());
    ws.on('error', () => reject(new Error(`cannot connect to ${path}`)));
  });
  return { ws, frames };
}

describe('ccxt.pro.binance against the Binance-shaped streams (/ws, /stream)', () => {
  jest.setTimeout(180_000);
  let venue: BinanceVenue;
  let maker: BinancePro;
  let taker: BinancePro;
  let watcher: BinancePro;

  beforeAll(async () => {
    // Ticks of 0.01, lots of 0.0001, minimum notional 1 USDT, fees 10 (maker) / 20 (taker) bps.
    venue = await openBinanceVenue('ccxt-ws', base);
    maker = await binancePro(await venue.account('maker', { [base]: '2' }));
    taker = await binancePro(await venue.account('taker', { USDT: '1000' }));
    watcher = await binancePro();
    await Promise.all([maker.loadMarkets(), taker.loadMarkets(), watcher.loadMarkets()]);
  });

  afterAll(async () => {
    await Promise.all([maker, taker, watcher].map((ex) => ex?.close()));
    await venue?.close();
  });

  it('a raw /ws/<stream> connection, SUBSCRIBE, LIST_SUBSCRIPTIONS, UNSUBSCRIBE and errors answer as Binance', async () => {
    const { ws, frames } = await connect(`/ws/${streamSymbol}@depth5`);
    await until('the partial book', async () => frames.find((f) => 'lastUpdateId' in f));
    expect(frames[0]).toMatchObject({ bids: [], asks: [] });
    ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: [`${streamSymbol}@trade`], id: 1 }));
    ws.send(JSON.stringify({ method: 'LIST_SUBSCRIPTIONS', id: 2 }));
    ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: ['nosuchusdt@trade'], id: 3 }));
    ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: [`${streamSymbol}@kline_3m`], id: 4 }));
    ws.send(JSON.stringify({ method: 'UNSUBSCRIBE', params: [`${streamSymbol}@trade`], id: 5 }));
    ws.send(JSON.stringify({ method: 'LIST_SUBSCRIPTIONS', id: 6 }));
    ws.send('not json');
    await until('every answer', async () => (frames.filter((f) => 'id' in f).length >= 7 ? true : undefined));
    expect(frames.filter((f) => 'id' in f)).toEqual([
      { result: null, id: 1 },
      { result: expect.arrayContaining([`${streamSymbol}@depth5`, `${streamSymbol}@trade`]), id: 2 },
      { error: { code: 2, msg: expect.stringContaining('unknown symbol') }, id: 3 },
      { error: { code: 2, msg: expect.stringContaining('unknown stream') }, id: 4 },
      { result: null, id: 5 },
      { result: [`${streamSymbol}@depth5`], id: 6 },
      { error: { code: 3, msg: expect.stringContaining('Invalid JSON') }, id: null },
    ]);
    ws.close();
  });

  it('watchOrderBook, watchTrades, watchTicker, watchOHLCV each see a trade made by two ccxt clients', async () => {
    const book0 = await watcher.watchOrderBook(symbol);
    expect(book0.bids).toEqual([]);
    expect(book0.asks).toEqual([]);
    // Subscribed before the trade: the watches are pending, their SUBSCRIBE answered meanwhile.
    const trades = watcher.watchTrades(symbol);
    const ohlcv = watcher.watchOHLCV(symbol, '1m');
    const tickerWatch = watcher.watchTicker(symbol);
    for (const p of [trades, ohlcv, tickerWatch]) p.catch(() => undefined);
    await sleep(1000);

    const book = await watchUntil(
      'watchOrderBook: the ask',
      () => watcher.watchOrderBook(symbol),
      () => watcher.orderbooks[symbol],
      (b) => b.asks.length > 0,
      async () =>
        expect(await maker.createOrder(symbol, 'limit', 'sell', 0.5, 100)).toMatchObject({ status: 'open' }),
    );
    expect(book.asks).toEqual([[100, 0.5]]);
    expect(book.bids).toEqual([]);

    const after = await watchUntil(
      'watchOrderBook: the ask reduced by the fill',
      () => watcher.watchOrderBook(symbol),
      () => watcher.orderbooks[symbol],
      (b) => b.asks[0]?.[1] === 0.3,
      async () =>
        expect(await taker.createOrder(symbol, 'limit', 'buy', 0.2, 101)).toMatchObject({
          status: 'closed',
          filled: 0.2,
          average: 100,
        }),
    );
    expect(after.asks).toEqual([[100, 0.3]]);
    expect(after.bids).toEqual([]);
    // The book ccxt keeps from the depth events is the book GET /api/v3/depth answers.
    const rest = await watcher.fetchOrderBook(symbol);
    expect(rest.asks).toEqual(after.asks);
    expect(rest.bids).toEqual(after.bids);

    const [trade] = await trades;
    expect(trade).toMatchObject({ symbol, price: 100, amount: 0.2, cost: 20, side: 'buy' });
    expect(typeof trade.id).toBe('string');
    expect(trade.timestamp).toBeGreaterThan(Date.now() - 60_000);

    const candle = (await ohlcv).at(-1)!;
    expect(candle.slice(1)).toEqual([100, 100, 100, 100, 0.2]);
    expect(candle[0]! % 60_000).toBe(0);

    const ticker = await watchUntil(
      'watchTicker: the last price',
      () => watcher.watchTicker(symbol),
      () => watcher.tickers[symbol],
      (t) => t.last === 100,
    );
    expect(ticker).toMatchObject({ symbol, last: 100, open: 100, high: 100, low: 100, baseVolume: 0.2 });
    expect(ticker.quoteVolume).toBe(20);
  });

  it('watchTrades and watchOHLCV of a second trade continue the same candle', async () => {
    const trades = watcher.watchTrades(symbol);
    trades.catch(() => undefined);
    // Watched until the candle counts the second trade: a watch pending from before may resolve
    // first with a kline event of the first trade that arrived after the last test read it.
    const candles = await watchUntil(
      'watchOHLCV: the candle of the second trade',
      () => watcher.watchOHLCV(symbol, '1m'),
      () => undefined,
      // The same minute, unless the trade fell into the next one.
      (c) => [0.3, 0.1].includes(c.at(-1)![5] as number),
      () => taker.createOrder(symbol, 'market', 'buy', 0.1),
    );
    expect([0.3, 0.1]).toContain(candles.at(-1)![5]);
    const [second] = await trades;
    expect(second).toMatchObject({ price: 100, amount: 0.1, side: 'buy' });
  });

  it('watchOrders, watchMyTrades and watchBalance (WebSocket API userDataStream.subscribe.signature) see each side of a trade with its fee', async () => {
    // Subscribed first: each watch signs its subscription on /ws-api/v3, then waits for an event.
    const makerOrders = maker.watchOrders(symbol);
    const makerTrades = maker.watchMyTrades(symbol);
    const takerBalance = taker.watchBalance();
    for (const p of [makerOrders, makerTrades, takerBalance]) p.catch(() => undefined);
    await sleep(1000);
    const ask = await maker.createOrder(symbol, 'limit', 'sell', 0.1, 98);
    const [placed] = await makerOrders;
    expect(placed).toMatchObject({
      id: ask.id,
      symbol,
      status: 'open',
      side: 'sell',
      price: 98,
      amount: 0.1,
    });

    const takerOrders = taker.watchOrders(symbol);
    takerOrders.catch(() => undefined);
    await sleep(500);
    await taker.createOrder(symbol, 'limit', 'buy', 0.1, 98);
    const filled = await watchUntil(
      'watchOrders: the taker’s fill',
      () => taker.watchOrders(symbol),
      () => ordersHeld(taker),
      (orders) => orders.some((o) => o.status === 'closed'),
      async () => takerOrders,
    );
    expect(filled.find((o) => o.status === 'closed')).toMatchObject({
      symbol,
      side: 'buy',
      filled: 0.1,
      price: 98,
    });
    const [fill] = await makerTrades;
    expect(fill).toMatchObject({
      symbol,
      order: ask.id,
      side: 'sell',
      takerOrMaker: 'maker',
      price: 98,
      amount: 0.1,
      fee: { currency: 'USDT', cost: 0.0098 },
    });
    const balance = await takerBalance;
    expect(balance[base]?.free ?? balance.USDT?.free).toBeDefined();
    const b = await watchUntil(
      'watchBalance: the bought base',
      () => taker.watchBalance(),
      () => taker.balance.spot as ccxt.Balances | undefined,
      (x) => (x[base]?.total ?? 0) > 0,
    );
    expect(b[base]?.total).toBeGreaterThan(0);
  });

  it('a combined /stream?streams=... connection wraps each event as {stream, data}: trade, depth, depth<n>, bookTicker, ticker, miniTicker, kline', async () => {
    const names = ['trade', 'depth@100ms', 'depth10', 'bookTicker', 'ticker', 'miniTicker', 'kline_1m'].map(
      (s) => `${streamSymbol}@${s}`,
    );
    const { ws, frames } = await connect(`/stream?streams=${names.join('/')}`);
    await until('the subscriptions', async () => {
      ws.send(JSON.stringify({ method: 'LIST_SUBSCRIPTIONS', id: 1 }));
      await new Promise((r) => setTimeout(r, 100));
      const list = frames.find((f) => f.id === 1 && Array.isArray(f.result) && f.result.length === 7);
      frames.length = 0;
      return list;
    });
    // A better ask (99) than the resting one (100), taken whole: the book returns to 100 x 0.2.
    await maker.createOrder(symbol, 'limit', 'sell', 0.05, 99);
    await taker.createOrder(symbol, 'limit', 'buy', 0.05, 99);
    const byStream = (name: string) =>
      frames
        .filter((f) => f.stream === `${streamSymbol}@${name}`)
        .map((f) => f.data as Record<string, unknown>);
    const S = `${base}USDT`;
    await until('each stream', async () =>
      byStream('trade').length > 0 && byStream('kline_1m').some((k) => (k.k as { c: string }).c === '99')
        ? true
        : undefined,
    );
    expect(byStream('trade')[0]).toMatchObject({ e: 'trade', s: S, p: '99', q: '0.05', m: false, M: true });
    const diffs = byStream('depth@100ms');
    expect(diffs.length).toBeGreaterThan(0);
    for (let i = 1; i < diffs.length; i++) expect(diffs[i].U).toBe((diffs[i - 1].u as number) + 1);
    expect(diffs.some((d) => (d.a as string[][]).some(([p]) => p === '99'))).toBe(true);
    expect(byStream('depth10').at(-1)).toMatchObject({ asks: [['100', '0.2']] });
    expect(byStream('bookTicker').at(-1)).toMatchObject({ s: S, a: '100', A: '0.2', b: '0', B: '0' });
    expect(byStream('kline_1m').at(-1)).toMatchObject({
      e: 'kline',
      s: S,
      k: { s: S, i: '1m', c: '99', x: false },
    });
    await until('the ticker', async () => (byStream('ticker').some((t) => t.c === '99') ? true : undefined));
    expect(byStream('ticker').at(-1)).toMatchObject({
      e: '24hrTicker',
      s: S,
      c: '99',
      o: '100',
      h: '100',
      l: '98',
    });
    expect(byStream('miniTicker').at(-1)).toMatchObject({
      e: '24hrMiniTicker',
      s: S,
      c: '99',
      o: '100',
      l: '98',
    });
    ws.close();
  });

  it('the ccxt.pro snippet of docs/api.md ("Standard clients", WebSocket streams: watchOrders, watchOrderBook) runs as written', async () => {
    const root = join(__dirname, '..');
    const doc = readFileSync(join(root, 'docs/api.md'), 'utf8');
    const section = doc.slice(doc.indexOf('## Standard clients'));
    const snippet = [...section.matchAll(/```js\n([\s\S]*?)```/g)]
      .map((m) => m[1])
      .find((code) => code.includes('ccxt.pro.binance'));
    expect(snippet).toContain("require('ccxt')");
    // The snippet trades BTC/USDT, which `npm run platform` seeds: seed it the same way.
    await seedDemoPlatform();
    // As written, but on this checkout's gateway port (NATIVE_PORT_OFFSET moves it).
    const code = snippet!.replace('http://127.0.0.1:8080', GATEWAY_URL);
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', code], {
      cwd: root,
      timeout: 60_000,
    });
    expect(stdout).toMatch(/^watchOrders open$/m);
    expect(stdout).toMatch(/^watchOrderBook bid 1000 true$/m);
  });
});
