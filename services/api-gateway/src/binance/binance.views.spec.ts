import { sampleMarketSpec } from '@trading/contracts';
import type { OrderRow } from '@trading/db';
import { percent } from './binance-market.service';
import {
  binanceOrder,
  binanceStatus,
  binanceType,
  difference,
  exchangeInfoSymbol,
  product,
  quoteOf,
  quotient,
} from './binance.views';
import { sampleOrderRow } from './order-row.fixture';

const market = sampleMarketSpec();

// A partially filled order at 100.25.
const row = (over: Partial<OrderRow> = {}): OrderRow =>
  sampleOrderRow({
    price: '10025',
    filledQty: '2000',
    filledNotional: '20050000',
    status: 'partially_filled',
    receivedAt: new Date(1_700_000_000_000),
    createdAt: new Date(1_700_000_000_010),
    updatedAt: new Date(1_700_000_000_020),
    createdAtKey: '1700000000010000',
    ...over,
  });

describe('Binance views', () => {
  it('does decimal arithmetic exactly, without floats', () => {
    expect(quoteOf(20_050_000n, market)).toBe('20.05');
    expect(product('0.1', '0.2')).toBe('0.02');
    expect(difference('100', '100.25')).toBe('-0.25');
    expect(quotient('1', '3', 8)).toBe('0.33333333');
    expect(quotient('-1', '3', 3)).toBe('-0.333');
    expect(quotient('1', '0', 3)).toBe('0');
    expect(percent('-5', '200')).toBe('-2.5');
    expect(percent('0.01', '3')).toBe('0.333');
  });

  it('describes a market with its rules as Binance filters', () => {
    const s = exchangeInfoSymbol(market);
    expect(s).toMatchObject({
      symbol: 'BTCUSDT',
      status: 'TRADING',
      baseAsset: 'BTC',
      quoteAsset: 'USDT',
      baseAssetPrecision: 8,
      quotePrecision: 6,
      orderTypes: ['LIMIT', 'LIMIT_MAKER', 'MARKET', 'STOP_LOSS_LIMIT'],
    });
    expect(s.filters).toEqual([
      { filterType: 'PRICE_FILTER', minPrice: '0.01', maxPrice: '90071992547409.91', tickSize: '0.01' },
      { filterType: 'LOT_SIZE', minQty: '0.0001', maxQty: '900719925474.0991', stepSize: '0.0001' },
      { filterType: 'MARKET_LOT_SIZE', minQty: '0.0001', maxQty: '900719925474.0991', stepSize: '0.0001' },
      { filterType: 'MIN_NOTIONAL', minNotional: '1', applyToMarket: false, avgPriceMins: 0 },
    ]);
    expect(exchangeInfoSymbol({ ...market, status: 'halted' }).status).toBe('BREAK');
  });

  it('names statuses and types as Binance does', () => {
    expect(binanceStatus({ status: 'pending', reason: null })).toBe('PENDING_NEW');
    expect(binanceStatus({ status: 'cancelled', reason: 'USER' })).toBe('CANCELED');
    expect(binanceStatus({ status: 'cancelled', reason: 'SELF_TRADE' })).toBe('EXPIRED_IN_MATCH');
    expect(binanceStatus({ status: 'rejected', reason: 'FOK_CANNOT_FILL' })).toBe('EXPIRED');
    expect(binanceStatus({ status: 'rejected', reason: 'NO_LIQUIDITY' })).toBe('EXPIRED');
    expect(binanceStatus({ status: 'rejected', reason: 'INSUFFICIENT_FUNDS' })).toBe('REJECTED');
    expect(binanceStatus({ status: 'expired', reason: 'IMMEDIATE_REMAINDER' })).toBe('EXPIRED');
    expect(binanceType({ orderType: 'limit', postOnly: true })).toBe('LIMIT_MAKER');
    expect(binanceType({ orderType: 'stop-limit', postOnly: false })).toBe('STOP_LOSS_LIMIT');
  });

  it('renders a stored order in Binance query-order shape', () => {
    expect(binanceOrder(row(), market)).toEqual({
      symbol: 'BTCUSDT',
      orderId: 'o-1',
      orderListId: -1,
      clientOrderId: 'c-1',
      price: '100.25',
      origQty: '0.5',
      executedQty: '0.2',
      cummulativeQuoteQty: '20.05',
      status: 'PARTIALLY_FILLED',
      timeInForce: 'GTC',
      type: 'LIMIT',
      side: 'BUY',
      stopPrice: '0',
      icebergQty: '0',
      time: 1_700_000_000_000,
      updateTime: 1_700_000_000_020,
      isWorking: true,
      workingTime: 1_700_000_000_000,
      origQuoteOrderQty: '0',
    });
    const marketBuy = binanceOrder(
      row({ orderType: 'market', price: '10100', quoteBudget: '100000000', clientOrderId: null }),
      market,
    );
    expect([marketBuy.price, marketBuy.origQuoteOrderQty, marketBuy.clientOrderId]).toEqual(['0', '100', '']);
  });
});
