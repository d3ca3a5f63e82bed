import { randomUUID } from 'node:crypto';
import { ExchangeClient, type Credentials } from './testing/exchange-client';
import { ensureServices, GATEWAY_URL, secret, type RunningServices } from './testing/native-services';

// Markets as an operator's job (issue 22 item 6), through the real gateway, Kafka, order-router
// and matching worker of the native platform: a market listed with POST /v1/operator/markets
// trades within seconds (two accounts cross), a price band changed with PATCH reaches the engine
// (an order outside it is rejected PRICE_OUT_OF_BAND), bad fields are 400 naming the field and
// change nothing, and tickSize/lotSize cannot change under a trading market or open orders (409
// naming the rule).
const api = new ExchangeClient(GATEWAY_URL);
const run = randomUUID().replace(/-/g, '').slice(0, 6).toUpperCase();

type Json = Record<string, unknown>;
interface Account extends Credentials {
  accountId: string;
}

describe('markets as an operator job (POST/PATCH /v1/operator/markets)', () => {
  jest.setTimeout(120_000);
  let services: RunningServices;
  let operator: string;
  let accountSeq = 0;
  const base = `OM${run}`;
  const symbol = `${base}-USDT`;

  const op = (method: string, path: string, body: unknown) =>
    api.operator<Json>(operator, method, path, body);
  const listed = async (s: string) =>
    (await api.public<{ data: Json[] }>('/v1/markets')).body.data.find((m) => m.symbol === s);

  async function account(deposits: Record<string, string>): Promise<Account> {
    const accountId = `om-${run}-${++accountSeq}`;
    const res = await op('POST', '/v1/operator/accounts', { accountId, name: 'operator-markets' });
    expect(res.status).toBe(201);
    const who = { accountId, apiKey: String(res.body.apiKey), secret: String(res.body.secret) };
    for (const [asset, amount] of Object.entries(deposits))
      expect((await op('POST', '/v1/operator/deposits', { accountId, asset, amount })).status).toBe(202);
    await api.until(`deposits of ${accountId}`, async () => {
      for (const [asset, amount] of Object.entries(deposits))
        if ((await api.balance(who, asset))?.available !== amount) return undefined;
      return true;
    });
    return who;
  }

  async function place(who: Account, body: Json): Promise<string> {
    const res = await api.signed<Json>(who, 'POST', '/v1/orders', { symbol, type: 'limit', ...body });
    expect([res.status, res.body]).toEqual([202, expect.objectContaining({ status: 'pending' })]);
    return String(res.body.orderId);
  }

  const order = (who: Account, orderId: string, status: string) =>
    api.until(`order ${orderId} ${status}`, async () => {
      const r = await api.signed<Json>(who, 'GET', `/v1/orders/${orderId}`);
      return r.status === 200 && r.body.status === status ? r.body : undefined;
    });

  beforeAll(async () => {
    services = await ensureServices();
    operator = secret('operator_token');
  });

  afterAll(async () => {
    await services?.stop();
  });

  it('lists a market that trades within seconds; bad fields are 400 naming the field and change nothing', async () => {
    const body = {
      symbol,
      baseAsset: base,
      quoteAsset: 'USDT',
      baseDecimals: 8,
      tickSize: '0.01',
      lotSize: '0.0001',
      minNotional: '1',
      priceBandMin: '50',
      priceBandMax: '200',
    };
    expect((await api.operator<Json>('wrong', 'POST', '/v1/operator/markets', body)).status).toBe(401);
    for (const [field, bad] of [
      ['tickSize', { tickSize: '0.01x' }],
      ['lotSize', { lotSize: '0' }],
      ['priceBandMin', { priceBandMin: '50.005' }],
      ['priceBandMax', { priceBandMax: '40' }],
      ['minQuantity', { minQuantity: '0.00015' }],
      ['symbol', { symbol: `${base}-BTC` }],
      ['baseDecimals', { baseDecimals: 19 }],
      ['makerFeeBps', { makerFeeBps: 1001 }],
      ['venue', { venue: 'x' }],
    ] as const) {
      const res = await op('POST', '/v1/operator/markets', { ...body, ...bad });
      expect([field, res.status, res.body]).toEqual([
        field,
        400,
        { error: expect.objectContaining({ code: 'VALIDATION_FAILED', field }) },
      ]);
    }
    // An unlisted asset without its decimals.
    const noDecimals = await op('POST', '/v1/operator/markets', { ...body, baseDecimals: undefined });
    expect([noDecimals.status, noDecimals.body]).toEqual([
      400,
      { error: expect.objectContaining({ code: 'VALIDATION_FAILED', field: 'baseAsset' }) },
    ]);

    const created = await op('POST', '/v1/operator/markets', body);
    const createdAt = Date.now();
    expect([created.status, created.body]).toEqual([
      201,
      {
        symbol,
        baseAsset: base,
        quoteAsset: 'USDT',
        status: 'trading',
        tickSize: '0.01',
        lotSize: '0.0001',
        minQuantity: '0.0001',
        minNotional: '1',
        makerFeeBps: 10,
        takerFeeBps: 20,
        priceBandMin: '50',
        priceBandMax: '200',
      },
    ]);
    const again = await op('POST', '/v1/operator/markets', { ...body, tickSize: '0.1' });
    expect([again.status, again.body]).toEqual([
      409,
      { error: expect.objectContaining({ code: 'MARKET_EXISTS', field: 'symbol' }) },
    ]);

    const maker = await account({ [base]: '1' });
    const taker = await account({ USDT: '1000' });
    expect(await api.until(`${symbol} in GET /v1/markets`, () => listed(symbol))).toEqual(created.body);
    const sell = await place(maker, { side: 'sell', price: '100', quantity: '0.5' });
    await order(maker, sell, 'new');
    const buy = await place(taker, { side: 'buy', price: '100', quantity: '0.5' });
    await order(taker, buy, 'filled');
    await order(maker, sell, 'filled');
    const trades = await api.until('the public trade', async () => {
      const r = await api.public<{ data: Json[] }>(`/v1/markets/${symbol}/trades`);
      return r.body.data?.length ? r.body.data : undefined;
    });
    expect(trades).toEqual([expect.objectContaining({ price: '100', qty: '0.5', takerSide: 'buy' })]);
    // Listed, two accounts funded, two orders through the pipeline: well within seconds.
    expect(Date.now() - createdAt).toBeLessThan(20_000);
    expect(await api.balance(taker, base)).toEqual(expect.objectContaining({ available: '0.5' }));

    // A PATCH with a bad field changes nothing.
    const badPatch = await op('PATCH', `/v1/operator/markets/${symbol}`, { priceBandMax: '120.001' });
    expect([badPatch.status, badPatch.body]).toEqual([
      400,
      { error: expect.objectContaining({ code: 'VALIDATION_FAILED', field: 'priceBandMax' }) },
    ]);
    const unknown = await op('PATCH', `/v1/operator/markets/NOPE${run}-USDT`, { makerFeeBps: 5 });
    expect([unknown.status, unknown.body]).toEqual([
      400,
      { error: expect.objectContaining({ code: 'UNKNOWN_SYMBOL', field: 'symbol' }) },
    ]);
    expect(await listed(symbol)).toEqual(created.body);
  });

  it('a changed price band reaches the engine: an order outside it is rejected PRICE_OUT_OF_BAND', async () => {
    const maker = await account({ [base]: '1' });
    // Rests above the coming band: resting orders keep what they were accepted with.
    const resting = await place(maker, { side: 'sell', price: '150', quantity: '0.1' });
    await order(maker, resting, 'new');

    const patched = await op('PATCH', `/v1/operator/markets/${symbol}`, {
      priceBandMax: '120',
      makerFeeBps: 5,
      minQuantity: '0.001',
    });
    expect([patched.status, patched.body]).toEqual([
      200,
      expect.objectContaining({
        symbol,
        priceBandMin: '50',
        priceBandMax: '120',
        makerFeeBps: 5,
        minQuantity: '0.001',
      }),
    ]);
    await api.until('the new band in GET /v1/markets', async () =>
      (await listed(symbol))?.priceBandMax === '120' ? true : undefined,
    );
    // The gateway read it; the matching worker's catalog reloads on the same 2 s period.
    await new Promise((r) => setTimeout(r, 3000));
    const outside = await place(maker, { side: 'sell', price: '130', quantity: '0.1' });
    expect(await order(maker, outside, 'rejected')).toEqual(
      expect.objectContaining({ reason: 'PRICE_OUT_OF_BAND' }),
    );
    const inside = await place(maker, { side: 'sell', price: '119', quantity: '0.1' });
    await order(maker, inside, 'new');
    expect((await api.signed<Json>(maker, 'GET', `/v1/orders/${resting}`)).body).toEqual(
      expect.objectContaining({ status: 'new' }),
    );

    // tickSize and lotSize: not while the market trades, not under open orders (409 naming the rule).
    const trading = await op('PATCH', `/v1/operator/markets/${symbol}`, { lotSize: '0.001' });
    expect([trading.status, trading.body]).toEqual([
      409,
      { error: expect.objectContaining({ code: 'MARKET_NOT_HALTED', field: 'lotSize' }) },
    ]);
    const halted = await op('PATCH', `/v1/operator/markets/${symbol}`, { status: 'halted' });
    expect([halted.status, halted.body]).toEqual([200, expect.objectContaining({ status: 'halted' })]);
    const open = await op('PATCH', `/v1/operator/markets/${symbol}`, { tickSize: '0.1' });
    expect([open.status, open.body]).toEqual([
      409,
      { error: expect.objectContaining({ code: 'MARKET_HAS_OPEN_ORDERS', field: 'tickSize' }) },
    ]);
    expect((await listed(symbol))?.tickSize).toBe('0.01');
  });

  it('changes tickSize and lotSize of a halted market without open orders', async () => {
    const quiet = `ON${run}-USDT`;
    const created = await op('POST', '/v1/operator/markets', {
      symbol: quiet,
      baseAsset: `ON${run}`,
      quoteAsset: 'USDT',
      baseDecimals: 8,
      tickSize: '0.01',
      lotSize: '0.0001',
      status: 'halted',
    });
    expect(created.status).toBe(201);
    const patched = await op('PATCH', `/v1/operator/markets/${quiet}`, { tickSize: '0.1', lotSize: '0.01' });
    expect([patched.status, patched.body]).toEqual([
      200,
      expect.objectContaining({ tickSize: '0.1', lotSize: '0.01', minQuantity: '0.01', status: 'halted' }),
    ]);
  });
});
