import type { PlaceCommand, RiskMarket, RouterRejectReason } from './risk.types';

/**
 * The gateway's static market rules, checked again (defence in depth: a command that reached
 * Kafka from anywhere else, or a market halted since the gateway looked, is refused here).
 */
export function checkMarketRules(
  cmd: PlaceCommand,
  market: RiskMarket | undefined,
): RouterRejectReason | null {
  if (!market) return 'UNKNOWN_SYMBOL';
  if (market.status !== 'trading') return 'MARKET_HALTED';
  const priced = cmd.orderType === 'limit' || cmd.orderType === 'stop-limit';
  if (priced && cmd.price === undefined) return 'PRICE_REQUIRED';
  if (!priced && cmd.price !== undefined) return 'PRICE_NOT_ALLOWED';
  if (cmd.orderType.startsWith('stop') && cmd.stopPrice === undefined) return 'STOP_PRICE_REQUIRED';
  if (cmd.qty < market.minQtyLots) return 'BELOW_MIN_QTY';
  if (priced && cmd.price !== undefined) {
    const notional = BigInt(cmd.price) * BigInt(cmd.qty);
    if (notional > BigInt(Number.MAX_SAFE_INTEGER)) return 'NOTIONAL_OVERFLOW';
    if (notional < BigInt(market.minNotionalTickLots)) return 'BELOW_MIN_NOTIONAL';
  }
  return null;
}
