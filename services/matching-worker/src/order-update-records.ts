import type { Message } from 'kafkajs';
import { orderUpdateBatchSchema, type OrderUpdate } from '@trading/contracts';
import { partitionFor } from '@trading/kafka';

/**
 * Kept well below the broker's default `message.max.bytes` (1 MiB; the limit is counted in
 * UTF-16 units here, at most 3 bytes each in UTF-8): the updates of one partition that do not
 * fit in one record are split over consecutive records of that partition.
 */
export const ORDER_UPDATE_RECORD_MAX_CHARS = 256 * 1024;

export interface OrderUpdateRecord {
  message: Message;
  /** How many updates the record carries. */
  updates: number;
}

/**
 * Groups the order updates of one matching transaction into `orders.updates.v2` records: one
 * record per destination partition (`partitionFor(accountId)`), its updates in the order they
 * were added (engine order), keyed by the first update's accountId. Each record is checked
 * against `orderUpdateBatchSchema` once (which checks every update in it): nothing invalid is
 * produced, and no update is parsed twice.
 */
export class OrderUpdateRecords {
  private readonly groups = new Map<number, OrderUpdate[]>();
  private count = 0;

  constructor(
    private readonly partitions: number,
    private readonly maxChars: number = ORDER_UPDATE_RECORD_MAX_CHARS,
  ) {}

  /** Updates added so far. */
  get size(): number {
    return this.count;
  }

  add(update: OrderUpdate): void {
    const p = partitionFor(update.accountId, this.partitions);
    const group = this.groups.get(p);
    if (group) group.push(update);
    else this.groups.set(p, [update]);
    this.count++;
  }

  /**
   * The records (with the number of updates in each), partition by partition; within a
   * partition in the order of the updates. Throws (like every contract check on produce) when an
   * update is invalid.
   */
  records(): OrderUpdateRecord[] {
    const out: OrderUpdateRecord[] = [];
    for (const [partition, group] of this.groups) {
      const { updates } = orderUpdateBatchSchema.parse({ updates: group });
      this.encode(partition, updates, out);
    }
    return out;
  }

  /** Appends the (already valid) updates as one record, or halves of them when too large. */
  private encode(partition: number, updates: OrderUpdate[], out: OrderUpdateRecord[]): void {
    const value = JSON.stringify({ updates });
    if (value.length <= this.maxChars || updates.length === 1) {
      out.push({ message: { key: updates[0].accountId, partition, value }, updates: updates.length });
      return;
    }
    const half = Math.ceil(updates.length / 2);
    this.encode(partition, updates.slice(0, half), out);
    this.encode(partition, updates.slice(half), out);
  }
}
