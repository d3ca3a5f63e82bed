import { type Order } from './order';

/**
 * FIFO queue of the orders resting at one price, as an intrusive doubly-linked list so that
 * append, remove-anywhere and pop-head are O(1) with no array shifting.
 */
export class PriceLevel {
  price: number;
  head: Order | null = null;
  tail: Order | null = null;
  count = 0;
  // Shown in depth.
  visibleQty = 0;
  // Includes iceberg hidden quantity (FOK checks need it).
  totalQty = 0;

  constructor(price: number) {
    this.price = price;
  }

  append(order: Order): void {
    order.level = this;
    order.next = null;
    order.prev = this.tail;
    if (this.tail === null) this.head = order;
    else this.tail.next = order;
    this.tail = order;
    this.count++;
    this.visibleQty += order.visible;
    this.totalQty += order.remaining;
  }

  remove(order: Order): void {
    const prev = order.prev;
    const next = order.next;
    if (prev === null) this.head = next;
    else prev.next = next;
    if (next === null) this.tail = prev;
    else next.prev = prev;
    order.prev = null;
    order.next = null;
    order.level = null;
    this.count--;
    this.visibleQty -= order.visible;
    this.totalQty -= order.remaining;
  }

  reset(price: number): void {
    this.price = price;
    this.head = null;
    this.tail = null;
    this.count = 0;
    this.visibleQty = 0;
    this.totalQty = 0;
  }
}
