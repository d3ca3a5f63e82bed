import type { OrderStateRow } from '@trading/db';
import { isFinal } from './order-state';

/**
 * The open orders of one router partition, as the router last committed them: a batch's cancels,
 * amends and execution updates find their orders here instead of reading them from PostgreSQL
 * (one query per batch before). The router is the only writer of `orders`, and a partition's
 * batches run one at a time on the member that owns it, so what is here is what the database
 * holds once the batch in hand commits. Like the balances, the whole cache is dropped when a batch
 * fails or the partition changes hands; anything not here (evicted, or from before this owner) is
 * read from the database. Final orders are not kept.
 */
export class OpenOrders {
  private readonly byId = new Map<string, OrderStateRow>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.byId.size;
  }

  /** The states of `ids` that exist: from here, the rest through `load` (then kept if open). */
  async find(
    ids: Iterable<string>,
    load: (missing: string[]) => Promise<Map<string, OrderStateRow>>,
  ): Promise<{ states: Map<string, OrderStateRow>; hits: number; loaded: number }> {
    const states = new Map<string, OrderStateRow>();
    const missing: string[] = [];
    for (const id of new Set(ids)) {
      const s = this.byId.get(id);
      if (s) states.set(id, s);
      else missing.push(id);
    }
    const hits = states.size;
    if (missing.length > 0) {
      for (const [id, s] of await load(missing)) {
        states.set(id, s);
        this.keep(s);
      }
    }
    return { states, hits, loaded: missing.length };
  }

  /** After a commit: the batch's new and changed orders as they now stand in the database. */
  committed(states: Iterable<OrderStateRow>): void {
    for (const s of states) this.keep(s);
  }

  private keep(s: OrderStateRow): void {
    if (isFinal(s.status)) {
      this.byId.delete(s.orderId);
      return;
    }
    this.byId.set(s.orderId, s);
    // Oldest first (insertion order): an evicted order is simply read again when it is needed.
    if (this.byId.size > this.max) this.byId.delete(this.byId.keys().next().value!);
  }
}
