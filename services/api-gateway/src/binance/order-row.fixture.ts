import type { OrderRow } from '@trading/db';

/** An order row as the gateway reads it (BTC-USDT, a resting limit buy); `over` changes any column. */
export const sampleOrderRow = (over: Partial<OrderRow> = {}): OrderRow => ({
  orderId: 'o-1',
  accountId: 'a-1',
  symbol: 'BTC-USDT',
  clientOrderId: 'c-1',
  side: 'buy',
  orderType: 'limit',
  tif: 'GTC',
  postOnly: false,
  price: '10000',
  stopPrice: null,
  displayQty: null,
  qty: '5000',
  filledQty: '0',
  filledNotional: '0',
  status: 'new',
  reason: null,
  receivedAt: new Date(1_000),
  createdAt: new Date(1_010),
  updatedAt: new Date(1_020),
  createdAtKey: '1010000',
  quoteBudget: null,
  ...over,
});
