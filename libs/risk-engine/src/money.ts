import type { OrderType, Side } from '@trading/contracts';
import type { LedgerEntry, PendingAmend, RiskEvent, RiskMarket, RiskOrder, TradeEvent } from './risk.types';

// The money rules of the exchange, pure and exact (BigInt): what an order must hold, what a fill
// moves, what a fee is. The risk engine decides with these; the property tests check them.

export const FEE_ACCOUNT = 'fee';

/**
 * The fee account a router partition credits: one per partition (`fee.p00`, `fee.p01`, ...), so
 * concurrent settlements of different partitions never wait for each other on one balance row
 * (every fill credits a fee). The exchange's fee income is the sum over `fee` and `fee.p*`.
 */
export function feeAccountFor(partition: number): string {
  return `${FEE_ACCOUNT}.p${String(partition).padStart(2, '0')}`;
}
const BPS = 10_000n;

/** What the router needs to know about an order to hold and settle for it. */
export interface OrderMoney {
  orderId: string;
  accountId: string;
  side: Side;
  orderType: OrderType;
  /** Limit price in ticks (limit, stop-limit). */
  price: number | null;
  protectionPrice: number | null;
  /** Ticks x lots a market buy may spend. */
  quoteBudget: number | null;
  /** Lots not yet filled. */
  remaining: number;
  /** Asset and amount still held for the order. */
  holdAsset: string;
  holdRemaining: bigint;
  /** Rates in force when the order was placed (its hold was sized for them). */
  makerFeeBps: number;
  takerFeeBps: number;
}

/** Fee in smallest quote units, rounded up: the exchange never loses a fraction. */
export function feeFor(quoteUnits: bigint, bps: number): bigint {
  return (quoteUnits * BigInt(bps) + BPS - 1n) / BPS;
}

/**
 * What an order with `remaining` lots must still hold. A buy holds quote per lot at its worst
 * price plus that lot's fee rounded up per lot, so fees rounded per fill can never exceed it.
 * A sell holds its base quantity. `null` when a market buy has no bound at all.
 */
export function requiredHold(
  o: Pick<
    OrderMoney,
    'side' | 'orderType' | 'price' | 'protectionPrice' | 'quoteBudget' | 'makerFeeBps' | 'takerFeeBps'
  >,
  remaining: number,
  market: RiskMarket,
): bigint | null {
  if (remaining <= 0) return 0n;
  if (o.side === 'sell') return BigInt(remaining) * market.baseUnitsPerLot;
  // Whether it ends up maker or taker is unknown until it trades: hold for the dearer.
  const bps = Math.max(o.makerFeeBps, o.takerFeeBps);
  const worst = o.price ?? o.protectionPrice;
  if (worst !== null) {
    const perLot = BigInt(worst) * market.quoteUnitsPerTickLot;
    return BigInt(remaining) * (perLot + feeFor(perLot, bps));
  }
  if (o.quoteBudget !== null) {
    // Per-fill fee rounding adds at most one unit per fill; a fill is at least one lot.
    const budget = BigInt(o.quoteBudget) * market.quoteUnitsPerTickLot;
    return budget + feeFor(budget, bps) + BigInt(remaining);
  }
  return null;
}

/**
 * What an order must hold for the amends it has in flight (routed, not yet answered by matching):
 * the most any of them can leave it needing. Matching applies or refuses each in turn, each to the
 * order as the earlier ones left it, a field an amend does not set being the one it finds; so the
 * order may end up with the price set last by any applied amend and the quantity set last by any
 * applied amend. 0 with none in flight; the order as it stands is not counted.
 */
export function amendsHold(
  order: Pick<
    RiskOrder,
    | 'side'
    | 'orderType'
    | 'price'
    | 'protectionPrice'
    | 'quoteBudget'
    | 'makerFeeBps'
    | 'takerFeeBps'
    | 'qty'
    | 'filledQty'
  >,
  amends: readonly PendingAmend[],
  market: RiskMarket,
): bigint {
  let most = 0n;
  // Index 0 is the order as it stands (it sets both); i sets the price, j the quantity.
  for (let i = 0; i <= amends.length; i++) {
    const price = i === 0 ? order.price : amends[i - 1].price;
    if (price === undefined) continue;
    for (let j = i === 0 ? 1 : 0; j <= amends.length; j++) {
      const qty = j === 0 ? order.qty : amends[j - 1].qty;
      if (qty === undefined) continue;
      // The later of the two must not set the other field as well: it would have won it.
      if (i < j && amends[j - 1].price !== undefined) continue;
      if (j < i && amends[i - 1].qty !== undefined) continue;
      const need = requiredHold({ ...order, price }, qty - order.filledQty, market) ?? 0n;
      if (need > most) most = need;
    }
  }
  return most;
}

export function holdAssetOf(side: 'buy' | 'sell', market: RiskMarket): string {
  return side === 'buy' ? market.quoteAsset : market.baseAsset;
}

/**
 * Ledger entries for this account's side of one trade: the asset it gives leaves its hold, the
 * asset it gets lands in available, its fee (in quote) goes to the fee account.
 */
export function tradeEntries(
  order: OrderMoney,
  trade: TradeEvent,
  symbol: string,
  market: RiskMarket,
  feeAccount: string = FEE_ACCOUNT,
): LedgerEntry[] {
  const maker = trade.makerOrderId === order.orderId;
  const role = maker ? 'maker' : 'taker';
  const ref = `${symbol}:${trade.seq}`;
  const key = (leg: string): string => `${ref}:${order.accountId}:${role}:${leg}`;
  const notional = BigInt(trade.price) * BigInt(trade.qty) * market.quoteUnitsPerTickLot;
  const fee = feeFor(notional, maker ? order.makerFeeBps : order.takerFeeBps);
  const base = BigInt(trade.qty) * market.baseUnitsPerLot;
  const feeEntry: LedgerEntry = {
    key: key('fee'),
    accountId: feeAccount,
    asset: market.quoteAsset,
    availableDelta: fee,
    heldDelta: 0n,
    kind: 'fee',
    ref,
  };
  if (order.side === 'buy') {
    return [
      {
        key: key('quote'),
        accountId: order.accountId,
        asset: market.quoteAsset,
        availableDelta: 0n,
        heldDelta: -(notional + fee),
        kind: 'trade',
        ref,
      },
      {
        key: key('base'),
        accountId: order.accountId,
        asset: market.baseAsset,
        availableDelta: base,
        heldDelta: 0n,
        kind: 'trade',
        ref,
      },
      feeEntry,
    ];
  }
  return [
    {
      key: key('base'),
      accountId: order.accountId,
      asset: market.baseAsset,
      availableDelta: 0n,
      heldDelta: -base,
      kind: 'trade',
      ref,
    },
    {
      key: key('quote'),
      accountId: order.accountId,
      asset: market.quoteAsset,
      availableDelta: notional - fee,
      heldDelta: 0n,
      kind: 'trade',
      ref,
    },
    feeEntry,
  ];
}

/** Moves what an order no longer needs from held back to available. */
export function releaseEntry(order: OrderMoney, amount: bigint, ref: string): LedgerEntry {
  return {
    key: `${ref}:${order.orderId}:release`,
    accountId: order.accountId,
    asset: order.holdAsset,
    availableDelta: amount,
    heldDelta: -amount,
    kind: 'release',
    ref,
  };
}

export function holdEntry(
  accountId: string,
  asset: string,
  amount: bigint,
  orderId: string,
  ref: string,
): LedgerEntry {
  return {
    key: `${ref}:${orderId}:hold`,
    accountId,
    asset,
    availableDelta: -amount,
    heldDelta: amount,
    kind: 'hold',
    ref,
  };
}

/**
 * Applies one engine event to the order's money. Returns the ledger entries it causes and
 * updates `order.remaining` / `order.holdRemaining`. Whatever the event, what is held afterwards
 * is exactly what the order can still cost (at least `floor`: what its amends in flight may need,
 * see `amendsHold`); the rest is released.
 */
export function settleEvent(
  order: OrderMoney,
  event: RiskEvent,
  symbol: string,
  market: RiskMarket,
  feeAccount: string = FEE_ACCOUNT,
  floor = 0n,
): LedgerEntry[] {
  const entries: LedgerEntry[] = [];
  const ref = `${symbol}:${event.seq}`;
  switch (event.type) {
    case 'trade': {
      const legs = tradeEntries(order, event, symbol, market, feeAccount);
      entries.push(...legs);
      // The first leg is what leaves the hold: quote for a buy, base for a sell.
      const spent = -legs[0].heldDelta;
      order.holdRemaining -= spent;
      order.remaining =
        event.makerOrderId === order.orderId ? event.makerRemainingQty : event.takerRemainingQty;
      break;
    }
    case 'amended':
      order.remaining = event.remainingQty;
      if (event.price) order.price = event.price;
      break;
    case 'cancelled':
    case 'expired':
      order.remaining = 0;
      break;
    case 'rejected':
      if (event.command === 'new') order.remaining = 0;
      break;
    default:
      return entries;
  }
  const needed = requiredHold(order, order.remaining, market) ?? order.holdRemaining;
  const target = needed > floor ? needed : floor;
  const excess = order.holdRemaining - target;
  if (excess > 0n) {
    entries.push(releaseEntry(order, excess, ref));
    order.holdRemaining = target;
  }
  return entries;
}
