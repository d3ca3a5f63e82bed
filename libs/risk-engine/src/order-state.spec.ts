import { applyOrderEvent } from './order-state';
import type { RiskOrder } from './risk.types';

const fresh = (): RiskOrder => ({
  orderId: 'o1',
  accountId: 'a1',
  symbol: 'BTC-USDT',
  side: 'buy',
  orderType: 'limit',
  price: 100,
  protectionPrice: null,
  quoteBudget: null,
  qty: 10,
  filledQty: 0,
  filledNotional: 0n,
  status: 'pending',
  reason: null,
  lastSeq: 0,
  holdAsset: 'USDT',
  holdRemaining: 0n,
  makerFeeBps: 10,
  takerFeeBps: 20,
});
const trade = (seq: number, qty: number, takerRemainingQty: number) => ({
  type: 'trade' as const,
  seq,
  price: 99,
  qty,
  makerOrderId: 'm1',
  takerOrderId: 'o1',
  makerAccountId: 'b',
  takerAccountId: 'a1',
  takerSide: 'buy' as const,
  makerRemainingQty: 0,
  takerRemainingQty,
});

describe('applyOrderEvent', () => {
  it('moves an order from pending to new to partially filled to filled, summing the notional exactly', () => {
    const o = fresh();
    applyOrderEvent(o, 'o1', {
      type: 'accepted',
      seq: 1,
      orderId: 'o1',
      accountId: 'a1',
      side: 'buy',
      orderType: 'limit',
      price: 100,
      qty: 10,
    });
    expect(o.status).toBe('new');
    applyOrderEvent(o, 'o1', trade(2, 4, 6));
    expect(o).toMatchObject({ status: 'partially_filled', filledQty: 4, filledNotional: 396n });
    applyOrderEvent(o, 'o1', trade(3, 6, 0));
    expect(o).toMatchObject({ status: 'filled', filledQty: 10, filledNotional: 990n, lastSeq: 3 });
  });

  it('ignores an event it has already applied', () => {
    const o = fresh();
    expect(applyOrderEvent(o, 'o1', trade(2, 4, 6))).toBe(true);
    expect(applyOrderEvent(o, 'o1', trade(2, 4, 6))).toBe(false);
    expect(o.filledQty).toBe(4);
  });

  it('keeps the order when a cancel of it is rejected, and rejects it when its placement is', () => {
    const o = fresh();
    applyOrderEvent(o, 'o1', {
      type: 'rejected',
      seq: 5,
      command: 'cancel',
      orderId: 'o1',
      accountId: 'a1',
      reason: 'UNKNOWN_ORDER',
    });
    expect(o.status).toBe('pending');
    applyOrderEvent(o, 'o1', {
      type: 'rejected',
      seq: 6,
      command: 'new',
      orderId: 'o1',
      accountId: 'a1',
      reason: 'POST_ONLY_WOULD_TAKE',
    });
    expect(o).toMatchObject({ status: 'rejected', reason: 'POST_ONLY_WOULD_TAKE' });
  });

  it('expires the unfilled rest of an immediate order', () => {
    const o = fresh();
    applyOrderEvent(o, 'o1', trade(2, 4, 6));
    applyOrderEvent(o, 'o1', {
      type: 'expired',
      seq: 3,
      orderId: 'o1',
      accountId: 'a1',
      remainingQty: 6,
      reason: 'IMMEDIATE_REMAINDER',
    });
    expect(o).toMatchObject({ status: 'expired', filledQty: 4 });
  });
});
