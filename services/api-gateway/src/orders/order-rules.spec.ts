import { checkMarketRules, sampleMarketSpec, type MarketSpec, type RuledOrder } from '@trading/contracts';
import { ErrorCode, GatewayException } from '../errors/gateway.exception';
import { placeOrderRequestSchema, type PlaceOrderRequest } from './order-request.schema';
import { validateAmend, validatePlaceOrder } from './order-rules';

const btc: MarketSpec = sampleMarketSpec();

const limit: PlaceOrderRequest = {
  symbol: 'BTC-USDT',
  side: 'buy',
  type: 'limit',
  price: '100.25',
  quantity: '0.5',
};

function rejection(fn: () => unknown): { code: ErrorCode; field?: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof GatewayException) return { code: err.code, field: err.field };
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('order validation and conversion', () => {
  it('converts a limit order to ticks and lots with defaults', () => {
    expect(validatePlaceOrder({ ...limit, clientOrderId: 'c-1' }, btc)).toEqual({
      symbol: 'BTC-USDT',
      side: 'buy',
      orderType: 'limit',
      price: 10025,
      qty: 5000,
      tif: 'GTC',
      postOnly: false,
      stp: 'none',
      clientOrderId: 'c-1',
      displayQty: undefined,
      stopPrice: undefined,
      protectionPrice: undefined,
      quoteBudget: undefined,
    });
  });

  it('converts a market buy with a quote budget in tick x lot units', () => {
    const fields = validatePlaceOrder(
      {
        symbol: 'BTC-USDT',
        side: 'buy',
        type: 'market',
        quantity: '1',
        quoteBudget: '150.5',
        protectionPrice: '200',
      },
      btc,
    );
    // 150.5 USDT / (0.01 x 0.0001) = 150 500 000 tick-lots
    expect(fields).toMatchObject({
      orderType: 'market',
      qty: 10000,
      quoteBudget: 150_500_000,
      protectionPrice: 20000,
      price: undefined,
    });
  });

  it('converts stop-limit icebergs', () => {
    expect(
      validatePlaceOrder(
        { ...limit, type: 'stop-limit', stopPrice: '99', displayQuantity: '0.1', stpMode: 'cancel-both' },
        btc,
      ),
    ).toMatchObject({ stopPrice: 9900, displayQty: 1000, stp: 'cancel-both' });
  });

  it.each([
    [{ symbol: 'DOGE-USDT' }, ErrorCode.UNKNOWN_SYMBOL, 'symbol'],
    [{ price: '100.255' }, ErrorCode.PRICE_OFF_TICK, 'price'],
    [{ price: '0' }, ErrorCode.INVALID_PRICE, 'price'],
    [{ price: 'abc' }, ErrorCode.INVALID_PRICE, 'price'],
    [{ price: undefined }, ErrorCode.INVALID_PRICE, 'price'],
    [{ quantity: '0' }, ErrorCode.INVALID_QUANTITY, 'quantity'],
    [{ quantity: '-1' }, ErrorCode.INVALID_QUANTITY, 'quantity'],
    [{ quantity: 'lots' }, ErrorCode.INVALID_QUANTITY, 'quantity'],
    [{ quantity: '1e3' }, ErrorCode.INVALID_QUANTITY, 'quantity'],
    [{ quantity: '0.00005' }, ErrorCode.INVALID_QUANTITY, 'quantity'],
    [{ quantity: '99999999999999999999' }, ErrorCode.INVALID_QUANTITY, 'quantity'],
    [{ price: '1', quantity: '0.5' }, ErrorCode.BELOW_MIN_NOTIONAL, 'quantity'],
    [{ type: 'market' as const }, ErrorCode.INVALID_ORDER_OPTIONS, 'price'],
    [{ stopPrice: '90' }, ErrorCode.INVALID_ORDER_OPTIONS, 'stopPrice'],
    [{ type: 'stop-limit' as const }, ErrorCode.INVALID_STOP_PRICE, 'stopPrice'],
    [{ postOnly: true, timeInForce: 'IOC' as const }, ErrorCode.INVALID_ORDER_OPTIONS, 'postOnly'],
    [{ displayQuantity: '1' }, ErrorCode.INVALID_DISPLAY_QTY, 'displayQuantity'],
    [{ quoteBudget: '10' }, ErrorCode.INVALID_ORDER_OPTIONS, 'quoteBudget'],
    [{ protectionPrice: '10' }, ErrorCode.INVALID_ORDER_OPTIONS, 'protectionPrice'],
    // Market orders are immediate-or-cancel in matching: a FOK one would fill part and expire the rest.
    [
      { type: 'market' as const, price: undefined, protectionPrice: '110', timeInForce: 'FOK' as const },
      ErrorCode.INVALID_ORDER_OPTIONS,
      'timeInForce',
    ],
    [
      {
        type: 'stop-market' as const,
        price: undefined,
        stopPrice: '105',
        protectionPrice: '110',
        timeInForce: 'FOK' as const,
      },
      ErrorCode.INVALID_ORDER_OPTIONS,
      'timeInForce',
    ],
  ])('refuses %j with %s naming %s', (change, code, field) => {
    expect(
      rejection(() =>
        validatePlaceOrder(
          { ...limit, ...change } as PlaceOrderRequest,
          'symbol' in change ? undefined : btc,
        ),
      ),
    ).toEqual({ code, field });
  });

  it('refuses a market sell with a quote budget and a budget off the tick x lot grid', () => {
    const sell = {
      symbol: 'BTC-USDT',
      side: 'sell',
      type: 'market',
      quantity: '1',
      quoteBudget: '10',
    } as const;
    expect(rejection(() => validatePlaceOrder(sell, btc))).toEqual({
      code: ErrorCode.INVALID_ORDER_OPTIONS,
      field: 'quoteBudget',
    });
    expect(
      rejection(() => validatePlaceOrder({ ...sell, side: 'buy', quoteBudget: '0.0000001' }, btc)),
    ).toEqual({
      code: ErrorCode.INVALID_QUOTE_BUDGET,
      field: 'quoteBudget',
    });
  });

  it.each(['market', 'stop-market'] as const)(
    'refuses a %s buy with neither protectionPrice nor quoteBudget, naming protectionPrice',
    (type) => {
      const buy = {
        symbol: 'BTC-USDT',
        side: 'buy',
        type,
        quantity: '1',
        ...(type === 'stop-market' ? { stopPrice: '100' } : {}),
      } as const;
      expect(rejection(() => validatePlaceOrder(buy, btc))).toEqual({
        code: ErrorCode.MARKET_BUY_UNBOUNDED,
        field: 'protectionPrice',
      });
      expect(validatePlaceOrder({ ...buy, protectionPrice: '101' }, btc)).toMatchObject({
        protectionPrice: 10100,
      });
      expect(validatePlaceOrder({ ...buy, quoteBudget: '50' }, btc)).toMatchObject({
        quoteBudget: 50_000_000,
      });
      expect(validatePlaceOrder({ ...buy, side: 'sell' }, btc)).toMatchObject({ side: 'sell' });
    },
  );

  it('refuses orders on a halted market', () => {
    expect(rejection(() => validatePlaceOrder(limit, { ...btc, status: 'halted' }))).toEqual({
      code: ErrorCode.MARKET_HALTED,
      field: 'symbol',
    });
  });

  it('amends price and quantity in ticks and lots, but no price on a market order', () => {
    expect(validateAmend({ price: '101', quantity: '0.25' }, btc, { orderType: 'limit' })).toEqual({
      price: 10100,
      qty: 2500,
    });
    expect(rejection(() => validateAmend({ price: '101.001' }, btc, { orderType: 'limit' }))).toEqual({
      code: ErrorCode.PRICE_OFF_TICK,
      field: 'price',
    });
    expect(rejection(() => validateAmend({ price: '101' }, btc, { orderType: 'market' }))).toEqual({
      code: ErrorCode.INVALID_ORDER_OPTIONS,
      field: 'price',
    });
  });
});

describe('order request shape', () => {
  it('refuses unknown keys, naming the first', () => {
    const r = placeOrderRequestSchema.safeParse({ ...limit, leverage: '10' });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]).toMatchObject({ code: 'unrecognized_keys', keys: ['leverage'] });
  });

  it('refuses numbers where decimal strings are expected', () => {
    const r = placeOrderRequestSchema.safeParse({ ...limit, quantity: 0.5 });
    expect(r.error?.issues[0]?.path).toEqual(['quantity']);
  });
});

describe('one vocabulary: the gateway and the order-router refuse an order with the same code', () => {
  // The router checks the shared market rules again on every command (one that reached Kafka
  // without the gateway, or a market halted since the gateway looked): the same order must get
  // the code the gateway answers, so a reason stored on a rejected order means one thing.
  const cases: [string, Partial<PlaceOrderRequest>, MarketSpec | undefined, Partial<RuledOrder>][] = [
    ['a limit order without a price', { price: undefined }, btc, { price: undefined }],
    ['a market order with a price', { type: 'market', price: '100' }, btc, { orderType: 'market' }],
    [
      'a stop-limit order without a stop price',
      { type: 'stop-limit' },
      btc,
      { orderType: 'stop-limit', stopPrice: undefined },
    ],
    ['an unknown market', { symbol: 'NOPE-USDT' }, undefined, {}],
    ['a halted market', {}, { ...btc, status: 'halted' }, {}],
    ['a quantity under the minimum', { quantity: '0.0001' }, { ...btc, minQtyLots: 2 }, { qty: 1 }],
    ['a notional under the minimum', { price: '0.01', quantity: '0.0001' }, btc, { price: 1, qty: 1 }],
  ];

  it.each(cases)('%s', (_name, request, market, integers) => {
    const atEdge = rejection(() => validatePlaceOrder({ ...limit, ...request } as PlaceOrderRequest, market));
    const ruled: RuledOrder = { orderType: request.type ?? 'limit', qty: 5000, price: 10025, ...integers };
    expect(checkMarketRules(ruled, market)).toBe(atEdge.code);
  });
});
