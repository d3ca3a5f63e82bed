import type { RiskEvent, RiskOrder } from './risk.types';

/**
 * Applies one engine event to an order's state. Pure and idempotent: an event at or below the
 * order's last applied seq changes nothing, so redelivered updates are harmless.
 */
export function applyOrderEvent(order: RiskOrder, orderId: string, event: RiskEvent): boolean {
  if (event.seq <= order.lastSeq) return false;
  order.lastSeq = event.seq;
  switch (event.type) {
    case 'accepted':
      if (order.status === 'pending') order.status = 'new';
      break;
    case 'rested':
      if (order.status === 'pending') order.status = 'new';
      break;
    case 'trade': {
      order.filledQty += event.qty;
      order.filledNotional += BigInt(event.price) * BigInt(event.qty);
      const remaining = event.makerOrderId === orderId ? event.makerRemainingQty : event.takerRemainingQty;
      order.status = remaining === 0 ? 'filled' : 'partially_filled';
      break;
    }
    case 'amended':
      order.price = event.price || order.price;
      order.qty = event.qty;
      break;
    case 'cancelled':
      order.status = 'cancelled';
      order.reason = event.reason;
      break;
    case 'expired':
      order.status = order.filledQty > 0 && event.remainingQty === 0 ? 'filled' : 'expired';
      order.reason = event.reason;
      break;
    case 'rejected':
      // A rejected cancel or amend leaves the order as it was.
      if (event.command === 'new') {
        order.status = 'rejected';
        order.reason = event.reason;
      }
      break;
    case 'triggered':
      break;
  }
  return true;
}

/** True when nothing more can happen to the order (@trading/contracts' isFinalStatus). */
export { isFinalStatus as isFinal } from '@trading/contracts';
