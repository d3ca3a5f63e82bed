import { F_REM, F_VIS, I_LEVEL, I_NEXT, I_PREV, NIL, OrderStore } from './order-store';

/**
 * FIFO queue of the orders resting at one price, as an intrusive doubly-linked list over order
 * handles (`next`/`prev` in the {@link OrderStore}) so that append, remove-anywhere and pop-head
 * are O(1) with no array shifting and no allocation. `slot` is the level's permanent index in
 * the engine's level table; resting orders record it in `store.level`.
 */
export class PriceLevel {
  readonly slot: number;
  price: number;
  head = NIL;
  tail = NIL;
  count = 0;
  // Shown in depth.
  visibleQty = 0;
  // Includes iceberg hidden quantity (FOK checks need it).
  totalQty = 0;

  constructor(slot: number, price: number) {
    this.slot = slot;
    this.price = price;
  }

  append(s: OrderStore, h: number): void {
    const tail = this.tail;
    const ip = s.iPage(h);
    const ib = OrderStore.iRow(h);
    ip[ib + I_LEVEL] = this.slot;
    ip[ib + I_NEXT] = NIL;
    ip[ib + I_PREV] = tail;
    if (tail === NIL) this.head = h;
    else s.setNext(tail, h);
    this.tail = h;
    this.count++;
    const fp = s.fPage(h);
    const fb = OrderStore.fRow(h);
    this.visibleQty += fp[fb + F_VIS];
    this.totalQty += fp[fb + F_REM];
  }

  remove(s: OrderStore, h: number): void {
    const ip = s.iPage(h);
    const ib = OrderStore.iRow(h);
    const prev = ip[ib + I_PREV];
    const next = ip[ib + I_NEXT];
    if (prev === NIL) this.head = next;
    else s.setNext(prev, next);
    if (next === NIL) this.tail = prev;
    else s.setPrev(next, prev);
    ip[ib + I_PREV] = NIL;
    ip[ib + I_NEXT] = NIL;
    ip[ib + I_LEVEL] = NIL;
    this.count--;
    const fp = s.fPage(h);
    const fb = OrderStore.fRow(h);
    this.visibleQty -= fp[fb + F_VIS];
    this.totalQty -= fp[fb + F_REM];
  }

  reset(price: number): void {
    this.price = price;
    this.head = NIL;
    this.tail = NIL;
    this.count = 0;
    this.visibleQty = 0;
    this.totalQty = 0;
  }
}
