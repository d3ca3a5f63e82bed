import { type PriceLevel } from './price-level';

// Internal numeric codes keep the hot path on small integers instead of string compares.
export const STP_NONE = 0;
export const STP_CANCEL_TAKER = 1;
export const STP_CANCEL_MAKER = 2;
export const STP_CANCEL_BOTH = 3;

export const TIF_GTC = 0;
export const TIF_IOC = 1;
export const TIF_FOK = 2;

export const KIND_LIMIT = 0;
export const KIND_MARKET = 1;
export const KIND_STOP_LIMIT = 2;
export const KIND_STOP_MARKET = 3;

/**
 * One live order: a taker being matched, a resting maker or a pending stop.
 * Every field is initialised in the constructor so all instances share one hidden class.
 */
export class Order {
  id: string;
  accountId: string;
  isBuy: boolean;
  kind: number;
  tif: number;
  stp: number;
  postOnly: boolean;
  // Limit price in ticks; 0 for market orders (see protection).
  price: number;
  // Total quantity after amends; filled = qty - remaining.
  qty: number;
  remaining: number;
  // Current displayed slice (remaining for non-icebergs).
  visible: number;
  // Iceberg slice size, 0 when not an iceberg.
  display: number;
  stopPrice: number;
  protection: number;
  // Quote budget left (ticks x lots), -1 when the order has none.
  budget: number;
  // Intrusive links inside the price level queue.
  prev: Order | null;
  next: Order | null;
  level: PriceLevel | null;
  pendingStop: boolean;

  constructor(id: string, accountId: string, isBuy: boolean, kind: number, price: number, qty: number) {
    this.id = id;
    this.accountId = accountId;
    this.isBuy = isBuy;
    this.kind = kind;
    this.tif = TIF_GTC;
    this.stp = STP_NONE;
    this.postOnly = false;
    this.price = price;
    this.qty = qty;
    this.remaining = qty;
    this.visible = qty;
    this.display = 0;
    this.stopPrice = 0;
    this.protection = 0;
    this.budget = -1;
    this.prev = null;
    this.next = null;
    this.level = null;
    this.pendingStop = false;
  }

  // Reuse from the engine's free list: same field order as the constructor, same hidden class.
  init(id: string, accountId: string, isBuy: boolean, kind: number, price: number, qty: number): this {
    this.id = id;
    this.accountId = accountId;
    this.isBuy = isBuy;
    this.kind = kind;
    this.tif = TIF_GTC;
    this.stp = STP_NONE;
    this.postOnly = false;
    this.price = price;
    this.qty = qty;
    this.remaining = qty;
    this.visible = qty;
    this.display = 0;
    this.stopPrice = 0;
    this.protection = 0;
    this.budget = -1;
    this.prev = null;
    this.next = null;
    this.level = null;
    this.pendingStop = false;
    return this;
  }
}
