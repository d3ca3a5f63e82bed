import { type EngineEvent } from './engine.types';

// FNV-1a, 32-bit. Chosen because it is a few integer ops per byte, needs no tables and gives the
// same value on every platform; it detects divergence, it is not a cryptographic digest.
export const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const TWO_32 = 4294967296;

/** Folds one 32-bit word, byte by byte. */
export function fnvWord(h: number, w: number): number {
  h = Math.imul(h ^ (w & 0xff), FNV_PRIME);
  h = Math.imul(h ^ ((w >>> 8) & 0xff), FNV_PRIME);
  h = Math.imul(h ^ ((w >>> 16) & 0xff), FNV_PRIME);
  h = Math.imul(h ^ (w >>> 24), FNV_PRIME);
  return h >>> 0;
}

/** Folds a safe integer (sign, low and high 32 bits). */
export function fnvNumber(h: number, n: number): number {
  const neg = n < 0;
  const a = neg ? -n : n;
  const lo = a % TWO_32;
  const hi = (a - lo) / TWO_32;
  return fnvWord(fnvWord(fnvWord(h, neg ? 1 : 0), lo), hi);
}

/** Folds a string (UTF-16 code units, then its length as a terminator). */
export function fnvString(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h = Math.imul(h ^ (c & 0xff), FNV_PRIME);
    h = Math.imul(h ^ (c >>> 8), FNV_PRIME);
  }
  return fnvNumber(h >>> 0, s.length);
}

/**
 * Running FNV-1a over events: fold each batch as it is produced and compare the value between
 * replicas. Every field of every event is covered, in a fixed order per event type.
 */
export function hashEvents(events: readonly EngineEvent[], h: number = FNV_OFFSET): number {
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    h = fnvString(h, e.type);
    h = fnvNumber(h, e.seq);
    switch (e.type) {
      case 'accepted':
        h = fnvString(fnvString(fnvString(fnvString(h, e.orderId), e.accountId), e.side), e.orderType);
        h = fnvNumber(fnvNumber(h, e.price), e.qty);
        break;
      case 'rejected':
        h = fnvString(fnvString(fnvString(fnvString(h, e.command), e.orderId), e.accountId), e.reason);
        break;
      case 'rested':
        h = fnvString(fnvString(fnvString(h, e.orderId), e.accountId), e.side);
        h = fnvNumber(fnvNumber(fnvNumber(h, e.price), e.remainingQty), e.visibleQty);
        break;
      case 'trade':
        h = fnvNumber(fnvNumber(h, e.price), e.qty);
        h = fnvString(fnvString(h, e.makerOrderId), e.takerOrderId);
        h = fnvString(fnvString(fnvString(h, e.makerAccountId), e.takerAccountId), e.takerSide);
        h = fnvNumber(fnvNumber(h, e.makerRemainingQty), e.takerRemainingQty);
        break;
      case 'cancelled':
      case 'expired':
        h = fnvString(fnvString(h, e.orderId), e.accountId);
        h = fnvString(fnvNumber(h, e.remainingQty), e.reason);
        break;
      case 'amended':
        h = fnvString(fnvString(h, e.orderId), e.accountId);
        h = fnvNumber(fnvNumber(fnvNumber(h, e.price), e.qty), e.remainingQty);
        h = fnvNumber(h, e.keptPriority ? 1 : 0);
        break;
      case 'triggered':
        h = fnvString(fnvString(h, e.orderId), e.accountId);
        h = fnvNumber(fnvNumber(h, e.stopPrice), e.lastPrice);
        break;
    }
  }
  return h;
}
