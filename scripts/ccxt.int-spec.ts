import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
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

// The real ccxt package (npm, devDependency) against the gateway's Binance-compatible subset
// (/api/v3) on the native platform: ccxt.binance with only its URLs and three options changed,
// the same accounts and API keys as /v1, every call through the real pipeline (Kafka, matching,
// settlement, market data). Test names name the ccxt calls they make.
const base = freshBase('C');
const symbol = `${base}/USDT`; // ccxt's symbol; the gateway's is C...-USDT, Binance's C...USDT

/** ccxt.binance pointed at this gateway: the configuration docs/api.md shows. */
function binance(creds: Partial<Credentials> = {}): ccxt.binance {
  return new ccxt.binance({
    apiKey: creds.apiKey,
    secret: creds.secret,
    urls: { api: { public: `${GATEWAY_URL}/api/v3`, private: `${GATEWAY_URL}/api/v3` } },
    options: { fetchMarkets: { types: ['spot'] }, fetchCurrencies: false, fetchMargins: false },
  });
}

/** An order's id (ccxt types it as possibly undefined). */
function idOf(order: ccxt.Order): string {
  if (typeof order.id !== 'string') throw new Error(`order without an id: ${JSON.stringify(order.info)}`);
  return order.id;
}

/** The ccxt error class a promise rejects with (its name), or 'resolved'. */
async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return err instanceof Error ? err.constructor.name : String(err);
  }
}

describe('ccxt.binance against /api/v3', () => {
  jest.setTimeout(180_000);
  let venue: BinanceVenue;
  let maker: ccxt.binance;
  let taker: ccxt.binance;
  let makerCreds: Credentials;
  let takerCreds: Credentials;

  /** A ccxt balance as [free, used, total] of one currency. */
  const balanceOf = async (ex: ccxt.binance, code: string) => {
    const b = await ex.fetchBalance();
    return [b[code]?.free, b[code]?.used, b[code]?.total];
  };

  beforeAll(async () => {
    // Ticks of 0.01, lots of 0.0001, minimum notional 1 USDT, fees 10 (maker) / 20 (taker) bps.
    venue = await openBinanceVenue('ccxt', base);
    makerCreds = await venue.account('maker', { [base]: '2', USDT: '1000' });
    takerCreds = await venue.account('taker', { [base]: '1', USDT: '1000' });
    maker = binance(makerCreds);
    taker = binance(takerCreds);
  });

  afterAll(async () => {
    await venue?.close();
  });

  it('loadMarkets: the market with its tick, lot and minimum notional from the market rules', async () => {
    const markets = await maker.loadMarkets();
    const m = markets[symbol];
    expect(m).toMatchObject({
      id: `${base}USDT`,
      base,
      quote: 'USDT',
      spot: true,
      active: true,
      precision: { price: 0.01, amount: 0.0001 },
      limits: { amount: { min: 0.0001 }, price: { min: 0.01 }, cost: { min: 1 } },
    });
    await taker.loadMarkets();
  });

  it('fetchTime: the server clock', async () => {
    const before = Date.now();
    const time = await maker.fetchTime();
    expect(time).toBeGreaterThanOrEqual(before - 1000);
    expect(time).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it('fetchBalance: free and used per currency, as deposited', async () => {
    expect(await balanceOf(maker, base)).toEqual([2, 0, 2]);
    expect(await balanceOf(taker, 'USDT')).toEqual([1000, 0, 1000]);
  });

  let resting: ccxt.Order;

  it('createOrder (limit) rests; fetchOrder and fetchOpenOrders show it; fetchOrderBook shows the ask', async () => {
    resting = await maker.createOrder(symbol, 'limit', 'sell', 0.5, 100);
    expect(resting).toMatchObject({
      status: 'open',
      type: 'limit',
      side: 'sell',
      amount: 0.5,
      price: 100,
      filled: 0,
    });
    const fetched = await maker.fetchOrder(idOf(resting), symbol);
    expect(fetched).toMatchObject({
      id: resting.id,
      status: 'open',
      remaining: 0.5,
      clientOrderId: resting.clientOrderId,
    });
    expect((await maker.fetchOpenOrders(symbol)).map((o) => o.id)).toEqual([resting.id]);
    const book = await until('the ask on the book', async () => {
      const b = await taker.fetchOrderBook(symbol);
      return b.asks.length > 0 ? b : undefined;
    });
    expect(book.asks).toEqual([[100, 0.5]]);
    expect(book.bids).toEqual([]);
  });

  it('createOrder (post-only) rests as LIMIT_MAKER, and refuses to take (OrderImmediatelyFillable); cancelOrder cancels it', async () => {
    const post = await maker.createOrder(symbol, 'limit', 'sell', 0.1, 105, { postOnly: true });
    expect(post).toMatchObject({ status: 'open', postOnly: true, price: 105 });
    expect(await rejection(taker.createOrder(symbol, 'limit', 'buy', 0.1, 100, { postOnly: true }))).toBe(
      'OrderImmediatelyFillable',
    );
    const cancelled = await maker.cancelOrder(idOf(post), symbol);
    expect(cancelled).toMatchObject({ id: post.id, status: 'canceled', filled: 0 });
    expect((await maker.fetchOpenOrders(symbol)).map((o) => o.id)).toEqual([resting.id]);
    expect(await rejection(maker.cancelOrder(idOf(post), symbol))).toBe('OrderNotFound');
  });

  it('a crossing pair placed by two ccxt clients trades: createOrder answers with the fill and its fee, fetchMyTrades shows each side its fill with its fee', async () => {
    const buy = await taker.createOrder(symbol, 'limit', 'buy', 0.2, 101);
    expect(buy).toMatchObject({ status: 'closed', filled: 0.2, remaining: 0, average: 100, cost: 20 });
    expect(buy.trades).toHaveLength(1);
    expect(buy.fee).toEqual({ currency: 'USDT', cost: 0.04 });
    expect(await maker.fetchOrder(idOf(resting), symbol)).toMatchObject({
      status: 'open',
      filled: 0.2,
      remaining: 0.3,
    });

    const [takerFill] = await taker.fetchMyTrades(symbol);
    expect(takerFill).toMatchObject({
      order: buy.id,
      side: 'buy',
      takerOrMaker: 'taker',
      price: 100,
      amount: 0.2,
      cost: 20,
      fee: { currency: 'USDT', cost: 0.04 },
    });
    const makerFills = await until('the maker’s settled fill', async () => {
      const fills = await maker.fetchMyTrades(symbol);
      return fills.length > 0 ? fills : undefined;
    });
    expect(makerFills).toHaveLength(1);
    expect(makerFills[0]).toMatchObject({
      id: takerFill.id,
      order: resting.id,
      side: 'sell',
      takerOrMaker: 'maker',
      price: 100,
      amount: 0.2,
      fee: { currency: 'USDT', cost: 0.02 },
    });
    // fetchBalance: the money moved exactly, fees included (taker 0.2%, maker 0.1% of 20 USDT).
    expect(await balanceOf(taker, 'USDT')).toEqual([979.96, 0, 979.96]);
    expect(await balanceOf(taker, base)).toEqual([1.2, 0, 1.2]);
    expect(await balanceOf(maker, 'USDT')).toEqual([1019.98, 0, 1019.98]);
    expect(await balanceOf(maker, base)).toEqual([1.5, 0.3, 1.8]);
  });

  it('createOrder (IOC) fills what the book has and expires the rest', async () => {
    const ioc = await taker.createOrder(symbol, 'limit', 'buy', 0.5, 100, { timeInForce: 'IOC' });
    expect(ioc).toMatchObject({ status: 'expired', timeInForce: 'IOC', filled: 0.3, remaining: 0.2 });
    expect(ioc.fee).toEqual({ currency: 'USDT', cost: 0.06 });
    expect(await maker.fetchOrder(idOf(resting), symbol)).toMatchObject({ status: 'closed', filled: 0.5 });
    expect(await maker.fetchOpenOrders(symbol)).toEqual([]);
  });

  it('createOrder (market) buys an amount, buys for a cost (quoteOrderQty) and sells an amount', async () => {
    await maker.createOrder(symbol, 'limit', 'sell', 0.1, 102);
    await until('the ask', async () => ((await taker.fetchOrderBook(symbol)).asks.length ? true : undefined));
    const byAmount = await taker.createOrder(symbol, 'market', 'buy', 0.05);
    expect(byAmount).toMatchObject({ status: 'closed', type: 'market', filled: 0.05, cost: 5.1 });
    const byCost = await taker.createMarketBuyOrderWithCost(symbol, 5.1);
    expect(byCost).toMatchObject({ status: 'closed', filled: 0.05, cost: 5.1 });
    expect(byCost.fee).toEqual({ currency: 'USDT', cost: 0.0102 });

    await maker.createOrder(symbol, 'limit', 'buy', 0.1, 99);
    await until('the bid', async () => ((await taker.fetchOrderBook(symbol)).bids.length ? true : undefined));
    const sell = await taker.createOrder(symbol, 'market', 'sell', 0.1);
    expect(sell).toMatchObject({ status: 'closed', filled: 0.1, average: 99, cost: 9.9 });
  });

  it('fetchTrades, fetchTicker and fetchOHLCV show the trades', async () => {
    // 0.2 @ 100, 0.3 @ 100, 0.05 @ 102, 0.05 @ 102, 0.1 @ 99.
    const trades = await until('every public trade', async () => {
      const t = await taker.fetchTrades(symbol);
      return t.length === 5 ? t : undefined;
    });
    expect(trades.map((t) => [t.price, t.amount, t.side])).toEqual([
      [100, 0.2, 'buy'],
      [100, 0.3, 'buy'],
      [102, 0.05, 'buy'],
      [102, 0.05, 'buy'],
      [99, 0.1, 'sell'],
    ]);
    const ticker = await until('the ticker of every trade', async () => {
      const t = await taker.fetchTicker(symbol);
      return t.last === 99 ? t : undefined;
    });
    expect(ticker).toMatchObject({ symbol, open: 100, high: 102, low: 99, last: 99, baseVolume: 0.7 });
    const candles = await taker.fetchOHLCV(symbol, '1m');
    expect(candles.length).toBeGreaterThan(0);
    expect(candles.reduce((sum, c) => sum + Number(c[5]), 0)).toBeCloseTo(0.7, 8);
    expect(Math.max(...candles.map((c) => Number(c[2])))).toBe(102);
    expect(Math.min(...candles.map((c) => Number(c[3])))).toBe(99);
  });

  it('refuses bad input with the errors ccxt maps to its exceptions, and changes nothing', async () => {
    const before = [await balanceOf(taker, 'USDT'), await balanceOf(taker, base)];
    // createOrder beyond the account's money: the pipeline refuses it (RESULT waits for that).
    expect(await rejection(taker.createOrder(symbol, 'limit', 'buy', 100, 100))).toBe('InsufficientFunds');
    // A price off the tick (ccxt would round it: sent raw), a notional below the minimum.
    const raw = { symbol: `${base}USDT`, side: 'BUY', type: 'LIMIT', timeInForce: 'GTC' };
    expect(await rejection(taker.privatePostOrder({ ...raw, quantity: '0.1', price: '100.001' }))).toBe(
      'InvalidOrder',
    );
    expect(await rejection(taker.privatePostOrder({ ...raw, quantity: '0.0001', price: '1' }))).toBe(
      'BadRequest',
    );
    expect(await rejection(taker.privatePostOrder({ ...raw, quantity: '0.1' }))).toBe('BadRequest');
    // fetchOrder and cancelOrder of an order that does not exist.
    const nobody = randomUUID();
    expect(await rejection(taker.fetchOrder(nobody, symbol))).toBe('OrderNotFound');
    expect(await rejection(taker.cancelOrder(nobody, symbol))).toBe('OrderNotFound');
    expect(await rejection(taker.publicGetDepth({ symbol: 'NOPEUSDT' }))).toBe('BadSymbol');
    // Keys: a wrong secret, an unknown key, a clock outside recvWindow.
    expect(await rejection(binance({ ...takerCreds, secret: 'f'.repeat(64) }).fetchBalance())).toBe(
      'AuthenticationError',
    );
    expect(await rejection(binance({ apiKey: 'ak_nobody', secret: 'x' }).fetchBalance())).toBe(
      'AuthenticationError',
    );
    const skewed = binance(takerCreds);
    skewed.options.timeDifference = 120_000;
    expect(await rejection(skewed.fetchBalance())).toBe('InvalidNonce');
    expect(await taker.fetchOpenOrders(symbol)).toEqual([]);
    expect([await balanceOf(taker, 'USDT'), await balanceOf(taker, base)]).toEqual(before);
  });

  it('the ccxt snippet of docs/api.md ("Standard clients") runs as written', async () => {
    const root = join(__dirname, '..');
    const doc = readFileSync(join(root, 'docs/api.md'), 'utf8');
    const section = doc.slice(doc.indexOf('## Standard clients'));
    const snippet = /```js\n([\s\S]*?)```/.exec(section)?.[1];
    expect(snippet).toContain("require('ccxt')");
    // As written, but on this checkout's gateway port (NATIVE_PORT_OFFSET moves it).
    // The snippet trades BTC/USDT, which `npm run platform` seeds: seed it the same way.
    await seedDemoPlatform();
    const code = snippet!.replace('http://127.0.0.1:8080', GATEWAY_URL);
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', code], {
      cwd: root,
      timeout: 60_000,
    });
    expect(stdout).toMatch(/^BTC\/USDT limits /m);
    expect(stdout).toMatch(/^placed [0-9a-f-]{36} open$/m);
    expect(stdout).toMatch(/^open orders [1-9]/m);
    expect(stdout).toMatch(/^cancelled canceled$/m);
    expect(stdout).toMatch(/^USDT \{ free: 1000, used: 0, total: 1000/m);
  });
});
