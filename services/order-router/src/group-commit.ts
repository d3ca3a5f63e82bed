/**
 * Group commit: batches handed in while a commit is in flight wait for it and then go to the
 * database together, in one call. The first batch goes at once (no added wait when the router
 * is idle); under load every call carries the batches of all the partitions that finished their
 * work during the previous call, so the number of database transactions (and WAL flushes) per
 * second stays bounded however many partitions the router consumes concurrently.
 *
 * A group is all or nothing. When a group of several batches fails on its data (a constraint, not
 * a lost connection), each is committed again on its own, so one bad batch fails only its own
 * partition. Committing a batch again is harmless even if the group's commit did land before the
 * error reached us: orders, events and ledger keys are inserted once, states only move forward,
 * offsets are upserts.
 */
export class GroupCommitter<T> {
  private pending: { item: T; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private running = false;

  constructor(
    private readonly commitGroup: (items: T[]) => Promise<void>,
    private readonly commitOne: (item: T) => Promise<void>,
    private readonly options: {
      maxGroup?: number;
      /** Whether a failed group is worth retrying batch by batch (not when the database is down). */
      isolate?: (err: unknown) => boolean;
      observe?: (groupSize: number) => void;
    } = {},
  ) {}

  /** Resolves once the item is committed (alone or in a group), rejects if it is not. */
  submit(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.pending.length > 0) {
        const group = this.pending.splice(0, this.options.maxGroup ?? 64);
        this.options.observe?.(group.length);
        try {
          if (group.length === 1) await this.commitOne(group[0].item);
          else await this.commitGroup(group.map((g) => g.item));
          for (const g of group) g.resolve();
        } catch (err) {
          if (group.length === 1 || !(this.options.isolate?.(err) ?? true)) {
            for (const g of group) g.reject(err);
            continue;
          }
          for (const g of group) {
            try {
              await this.commitOne(g.item);
              g.resolve();
            } catch (one) {
              g.reject(one);
            }
          }
        }
      }
    } finally {
      this.running = false;
    }
  }
}
