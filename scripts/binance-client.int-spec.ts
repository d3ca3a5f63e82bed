import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BadRequestError, Spot, SpotRestAPI, UnauthorizedError } from '@binance/spot';
import {
  type BinanceVenue,
  type Credentials,
  freshBase,
  GATEWAY_URL,
  openBinanceVenue,
  until,
} from './testing/binance-clients';
import { seedDemoPlatform } from './testing/native-services';

// A second, independent client of the gateway's Binance-compatible subset: Binance's own
// connector (@binance/spot, npm, devDependency), its REST client pointed at the gateway by its
// `basePath` option and nothing else changed, against the native platform (Kafka, matching,
// settlement, market data). Test names name the connector calls they make (client.restAPI.<call>).

/** The connector with this gateway as its REST base; the default timeout (1 s) is too short for RESULT/FULL. */
function spot(creds: Partial<Credentials> = {}): Spot {
  return new Spot({
    configurationRestAPI: {
      apiKey: creds.apiKey ?? '',
      apiSecret: creds.secret,
      basePath: GATEWAY_URL,
      timeout: 15_000,
      retries: 0,
    },
  });
}

/** The connector's error of a rejected call: its class name and Binance code. */
async function rejection(p: Promise<unknown>): Promise<[string, number | undefined] | 'resolved'> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return [err instanceof Error ? err.constructor.name : String(err), (err as { code?: number }).code];
  }
}

// The gateway's orderIds are UUIDs (Binance's are integers; the connector types them as number
// but sends what it is given).
const asOrderId = (id: unknown): number => id as number;

const { NewOrderSideEnum: Side, NewOrderTypeEnum: Type, NewOrderTimeInForceEnum: Tif } = SpotRestAPI;
const FULL = SpotRestAPI.NewOrderNewOrderRespTypeEnum.FULL;

describe('@binance/spot (Binance’s connector) against /api/v3', () => {
  jest.setTimeout(180_000);
  let venue: BinanceVenue;
  let symbol: string;
  let maker: Spot;
  let taker: Spot;

  beforeAll(async () => {
    venue = await openBinanceVenue('binance-spot', freshBase('B'));
    symbol = venue.symbol;
    maker = spot(await venue.account('maker', { [venue.base]: '2', USDT: '1000' }));
    taker = spot(await venue.account('taker', { [venue.base]: '1', USDT: '1000' }));
  });

  afterAll(async () => {
    await venue?.close();
  });

  it('restAPI.time: the server clock', async () => {
    const before = Date.now();
    const { serverTime } = await (await maker.restAPI.time()).data();
    expect(serverTime).toBeGreaterThanOrEqual(before - 1000);
    expect(serverTime).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it('restAPI.exchangeInfo: the symbol with PRICE_FILTER, LOT_SIZE and MIN_NOTIONAL from the market rules', async () => {
    const info = await (await maker.restAPI.exchangeInfo({ symbol })).data();
    const s = info.symbols?.[0];
    expect(s).toMatchObject({ symbol, baseAsset: venue.base, quoteAsset: 'USDT', status: 'TRADING' });
    const filters = Object.fromEntries((s?.filters ?? []).map((f) => [f.filterType, f]));
    expect(filters.PRICE_FILTER).toMatchObject({ tickSize: expect.stringMatching(/^0\.010*$/) });
    expect(filters.LOT_SIZE).toMatchObject({ stepSize: expect.stringMatching(/^0\.00010*$/) });
    expect(Number((filters.MIN_NOTIONAL as { minNotional?: string } | undefined)?.minNotional)).toBe(1);
  });

  it('restAPI.getAccount: free and locked per asset, as deposited', async () => {
    const account = await (await maker.restAPI.getAccount()).data();
    const of = (asset: string) => account.balances?.find((b) => b.asset === asset);
    expect(Number(of(venue.base)?.free)).toBe(2);
    expect(Number(of(venue.base)?.locked)).toBe(0);
    expect(Number(of('USDT')?.free)).toBe(1000);
  });

  let restingId: number;

  it('restAPI.newOrder (LIMIT GTC) rests; restAPI.getOrder and restAPI.getOpenOrders show it; restAPI.depth shows the ask', async () => {
    const placed = await (
      await maker.restAPI.newOrder({
        symbol,
        side: Side.SELL,
        type: Type.LIMIT,
        timeInForce: Tif.GTC,
        quantity: 0.5,
        price: 100,
        newOrderRespType: FULL,
      })
    ).data();
    expect(placed).toMatchObject({ symbol, status: 'NEW', side: 'SELL', type: 'LIMIT', executedQty: '0' });
    restingId = asOrderId(placed.orderId);
    // Sent without newClientOrderId: made up as Binance does, and the order can be found by it.
    expect(placed.clientOrderId).toMatch(/^[A-Za-z0-9]{22}$/);
    const fetched = await (await maker.restAPI.getOrder({ symbol, orderId: restingId })).data();
    expect(fetched).toMatchObject({ orderId: restingId, status: 'NEW', origQty: '0.5', price: '100' });
    const byClientId = await (
      await maker.restAPI.getOrder({ symbol, origClientOrderId: placed.clientOrderId })
    ).data();
    expect(byClientId).toMatchObject({ orderId: restingId, clientOrderId: placed.clientOrderId });
    const open = await (await maker.restAPI.getOpenOrders({ symbol })).data();
    expect(open.map((o) => o.orderId)).toEqual([restingId]);
    const book = await until('the ask on the book', async () => {
      const d = await (await taker.restAPI.depth({ symbol, limit: 5 })).data();
      return d.asks?.length ? d : undefined;
    });
    expect(book.asks).toEqual([['100', '0.5']]);
    expect(book.bids).toEqual([]);
  });

  it('restAPI.newOrder (LIMIT_MAKER) rests, and is refused when it would take (-2010); restAPI.deleteOrder cancels it, then -2011', async () => {
    const post = await (
      await maker.restAPI.newOrder({
        symbol,
        side: Side.SELL,
        type: Type.LIMIT_MAKER,
        quantity: 0.1,
        price: 105,
        // Binance answers ACK by default for every type but LIMIT and MARKET (so does the gateway).
        newOrderRespType: FULL,
      })
    ).data();
    expect(post).toMatchObject({ status: 'NEW', type: 'LIMIT_MAKER' });
    expect(
      await rejection(
        // FULL waits for matching's answer: with ACK the refusal would come later, as a REJECTED order.
        taker.restAPI.newOrder({
          symbol,
          side: Side.BUY,
          type: Type.LIMIT_MAKER,
          quantity: 0.1,
          price: 100,
          newOrderRespType: FULL,
        }),
      ),
    ).toEqual(['BadRequestError', -2010]);
    const cancelled = await (
      await maker.restAPI.deleteOrder({ symbol, orderId: asOrderId(post.orderId) })
    ).data();
    expect(cancelled).toMatchObject({ orderId: post.orderId, status: 'CANCELED', executedQty: '0' });
    expect(await rejection(maker.restAPI.deleteOrder({ symbol, orderId: asOrderId(post.orderId) }))).toEqual([
      'BadRequestError',
      -2011,
    ]);
  });

  it('restAPI.newOrder (LIMIT, crossing, FULL) fills with its fee; restAPI.myTrades shows each side its fill and commission', async () => {
    const buy = await (
      await taker.restAPI.newOrder({
        symbol,
        side: Side.BUY,
        type: Type.LIMIT,
        timeInForce: Tif.GTC,
        quantity: 0.2,
        price: 101,
        newOrderRespType: FULL,
      })
    ).data();
    expect(buy).toMatchObject({ status: 'FILLED', executedQty: '0.2', cummulativeQuoteQty: '20' });
    expect(buy.fills).toEqual([
      expect.objectContaining({ price: '100', qty: '0.2', commission: '0.04', commissionAsset: 'USDT' }),
    ]);
    const [takerFill] = await (await taker.restAPI.myTrades({ symbol })).data();
    expect(takerFill).toMatchObject({
      orderId: buy.orderId,
      price: '100',
      qty: '0.2',
      quoteQty: '20',
      commission: '0.04',
      commissionAsset: 'USDT',
      isBuyer: true,
      isMaker: false,
    });
    const makerFills = await until('the maker’s settled fill', async () => {
      const fills = await (await maker.restAPI.myTrades({ symbol })).data();
      return fills.length ? fills : undefined;
    });
    expect(makerFills).toEqual([
      expect.objectContaining({
        id: takerFill.id,
        orderId: restingId,
        commission: '0.02',
        commissionAsset: 'USDT',
        isBuyer: false,
        isMaker: true,
      }),
    ]);
    expect(await (await maker.restAPI.getOrder({ symbol, orderId: restingId })).data()).toMatchObject({
      status: 'PARTIALLY_FILLED',
      executedQty: '0.2',
    });
  });

  it('restAPI.newOrder (LIMIT IOC) fills what the book has and expires the rest', async () => {
    const ioc = await (
      await taker.restAPI.newOrder({
        symbol,
        side: Side.BUY,
        type: Type.LIMIT,
        timeInForce: Tif.IOC,
        quantity: 0.5,
        price: 100,
        newOrderRespType: FULL,
      })
    ).data();
    expect(ioc).toMatchObject({ status: 'EXPIRED', timeInForce: 'IOC', executedQty: '0.3' });
    expect(await (await maker.restAPI.getOpenOrders({ symbol })).data()).toEqual([]);
  });

  it('restAPI.newOrder (MARKET) buys a quantity and buys for a quoteOrderQty', async () => {
    await maker.restAPI.newOrder({
      symbol,
      side: Side.SELL,
      type: Type.LIMIT,
      timeInForce: Tif.GTC,
      quantity: 0.1,
      price: 102,
    });
    await until('the ask', async () =>
      (await (await taker.restAPI.depth({ symbol })).data()).asks?.length ? true : undefined,
    );
    const byQty = await (
      await taker.restAPI.newOrder({
        symbol,
        side: Side.BUY,
        type: Type.MARKET,
        quantity: 0.05,
        newOrderRespType: FULL,
      })
    ).data();
    expect(byQty).toMatchObject({
      status: 'FILLED',
      type: 'MARKET',
      executedQty: '0.05',
      cummulativeQuoteQty: '5.1',
    });
    const byQuote = await (
      await taker.restAPI.newOrder({
        symbol,
        side: Side.BUY,
        type: Type.MARKET,
        quoteOrderQty: 5.1,
        newOrderRespType: FULL,
      })
    ).data();
    expect(byQuote).toMatchObject({ status: 'FILLED', executedQty: '0.05', cummulativeQuoteQty: '5.1' });
  });

  it('restAPI.getTrades, restAPI.klines and restAPI.ticker24hr show the trades', async () => {
    // 0.2 @ 100, 0.3 @ 100, 0.05 @ 102, 0.05 @ 102.
    const trades = await until('every public trade', async () => {
      const t = await (await taker.restAPI.getTrades({ symbol })).data();
      return t.length === 4 ? t : undefined;
    });
    expect(trades.map((t) => [t.price, t.qty, t.isBuyerMaker])).toEqual([
      ['100', '0.2', false],
      ['100', '0.3', false],
      ['102', '0.05', false],
      ['102', '0.05', false],
    ]);
    const ticker = await until('the ticker of every trade', async () => {
      const t = (await (
        await taker.restAPI.ticker24hr({ symbol })
      ).data()) as SpotRestAPI.Ticker24hrResponse1;
      return t.volume === '0.6' ? t : undefined;
    });
    expect(ticker).toMatchObject({
      symbol,
      openPrice: '100',
      highPrice: '102',
      lowPrice: '100',
      lastPrice: '102',
      volume: '0.6',
    });
    const klines = await (
      await taker.restAPI.klines({ symbol, interval: SpotRestAPI.KlinesIntervalEnum.INTERVAL_1m })
    ).data();
    expect(klines.length).toBeGreaterThan(0);
    expect(klines.reduce((sum, k) => sum + Number(k[5]), 0)).toBeCloseTo(0.6, 8);
  });

  it('refusals arrive as the connector’s errors with Binance codes, and change nothing', async () => {
    const before = await (await taker.restAPI.getAccount()).data();
    const nobody = asOrderId('00000000-0000-4000-8000-000000000000');
    expect(await rejection(taker.restAPI.getOrder({ symbol, orderId: nobody }))).toEqual([
      'BadRequestError',
      -2013,
    ]);
    expect(
      await rejection(
        taker.restAPI.newOrder({
          symbol,
          side: Side.BUY,
          type: Type.LIMIT,
          timeInForce: Tif.GTC,
          quantity: 100,
          price: 100,
        }),
      ),
    ).toEqual(['BadRequestError', -2010]);
    expect(
      await rejection(
        taker.restAPI.newOrder({
          symbol,
          side: Side.BUY,
          type: Type.LIMIT,
          timeInForce: Tif.GTC,
          quantity: 0.1,
          price: 100.001,
        }),
      ),
    ).toEqual(['BadRequestError', -1013]);
    expect(await rejection(taker.restAPI.depth({ symbol: 'NOPEUSDT' }))).toEqual(['BadRequestError', -1121]);
    expect(await rejection(spot({ apiKey: 'ak_nobody', secret: 'x' }).restAPI.getAccount())).toEqual([
      'UnauthorizedError',
      -2015,
    ]);
    expect(BadRequestError).toBeDefined();
    expect(UnauthorizedError).toBeDefined();
    expect(await (await taker.restAPI.getOpenOrders({ symbol })).data()).toEqual([]);
    expect((await (await taker.restAPI.getAccount()).data()).balances).toEqual(before.balances);
  });

  it('websocketAPI.connect and userDataStreamSubscribeSignature (/ws-api/v3): executionReport and outboundAccountPosition of a placed order', async () => {
    const creds = await venue.account('wsapi', { USDT: '100' });
    const client = new Spot({
      configurationRestAPI: {
        apiKey: creds.apiKey,
        apiSecret: creds.secret,
        basePath: GATEWAY_URL,
        timeout: 15_000,
      },
      configurationWebsocketAPI: {
        apiKey: creds.apiKey,
        apiSecret: creds.secret,
        wsURL: `${GATEWAY_URL.replace(/^http/, 'ws')}/ws-api/v3`,
      },
    });
    const connection = await client.websocketAPI.connect();
    try {
      const { response, stream } = await connection.userDataStreamSubscribeSignature();
      expect(await response.data).toBeDefined();
      const events: Record<string, unknown>[] = [];
      stream.on('message', (data) => {
        events.push(data as unknown as Record<string, unknown>);
      });
      const order = await (
        await client.restAPI.newOrder({
          symbol,
          side: Side.BUY,
          type: Type.LIMIT,
          timeInForce: Tif.GTC,
          quantity: 0.1,
          price: 90,
        })
      ).data();
      const report = await until('the executionReport', async () =>
        events.find((e) => e.e === 'executionReport'),
      );
      expect(report).toMatchObject({ s: symbol, S: 'BUY', o: 'LIMIT', x: 'NEW', X: 'NEW', i: order.orderId });
      const position = await until('the outboundAccountPosition', async () =>
        events.find((e) => e.e === 'outboundAccountPosition'),
      );
      expect(position.B).toEqual([{ a: 'USDT', f: '90.982', l: '9.018' }]);
      await client.restAPI.deleteOrder({ symbol, orderId: asOrderId(order.orderId) });
    } finally {
      await connection.disconnect();
    }
  });

  it('the @binance/spot snippet of docs/api.md ("Standard clients": restAPI.exchangeInfo, getAccount, newOrder, deleteOrder, and the listenKey stream) runs as written', async () => {
    const root = join(__dirname, '..');
    const doc = readFileSync(join(root, 'docs/api.md'), 'utf8');
    const section = doc.slice(doc.indexOf('## Standard clients'));
    const snippet = [...section.matchAll(/```js\n([\s\S]*?)```/g)]
      .map((m) => m[1])
      .find((code) => code.includes("require('@binance/spot')"));
    expect(snippet).toBeDefined();
    // The snippet trades BTCUSDT, which `npm run platform` seeds: seed it the same way.
    await seedDemoPlatform();
    // As written, but on this checkout's gateway port (NATIVE_PORT_OFFSET moves it).
    const code = snippet!.replace('http://127.0.0.1:8080', GATEWAY_URL);
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', code], {
      cwd: root,
      timeout: 60_000,
    });
    expect(stdout.trim().split('\n')).toEqual([
      'exchangeInfo BTCUSDT TRADING',
      'newOrder NEW',
      'executionReport NEW NEW 1000 0.01',
      'outboundAccountPosition {"a":"USDT","f":"989.98","l":"10.02"}',
      'deleteOrder CANCELED',
    ]);
  });
});
