import type { DataSource, EntityManager } from 'typeorm';
import { pgArrays } from '../pg-array';
import { LEDGER_CASTS, ledgerColumns, type LedgerRow } from './balances.repository';
import {
  ORDER_CASTS,
  newOrderColumns,
  orderEventColumns,
  orderStateColumns,
  type NewOrderRow,
  type OrderEventRow,
  type OrderStateRow,
} from './orders.repository';
import { outboxRecords, type OutboxRow } from './router-outbox.repository';

/** Where the consumer stands after the batch (consumer_offsets). */
export interface BatchOffset {
  groupId: string;
  topic: string;
  partition: number;
  nextOffset: number;
}

export interface CommandsBatch {
  orders: NewOrderRow[];
  /** Orders whose hold grew (amends). */
  states: OrderStateRow[];
  ledger: LedgerRow[];
  /** Routed commands of this batch; outbox rows before `pruneBefore` were sent already. */
  outbox: { partition: number; pruneBefore: number; rows: OutboxRow[] };
  offset: BatchOffset;
}

export interface UpdatesBatch {
  events: OrderEventRow[];
  states: OrderStateRow[];
  ledger: LedgerRow[];
  offset: BatchOffset;
}

const params = (casts: string[], from: number): string =>
  casts.map((c, i) => `$${from + i}::${c}[]`).join(', ');

const COMMANDS_SQL = (() => {
  const o = ORDER_CASTS.insertOrders.length;
  const s = ORDER_CASTS.updateStates.length;
  const l = LEDGER_CASTS.length;
  const x = 1 + o + s + l;
  return `SELECT router_commit_commands(${params(ORDER_CASTS.insertOrders, 1)}, ${params(ORDER_CASTS.updateStates, 1 + o)},
    ${params(LEDGER_CASTS, 1 + o + s)}, $${x}::int, $${x + 1}::bigint, $${x + 2}::bigint, $${x + 3}::text,
    $${x + 4}::text, $${x + 5}::text, $${x + 6}::int, $${x + 7}::bigint)`;
})();

const UPDATES_SQL = (() => {
  const e = ORDER_CASTS.insertEvents.length;
  const s = ORDER_CASTS.updateStates.length;
  const l = LEDGER_CASTS.length;
  const x = 1 + e + s + l;
  return `SELECT router_commit_updates(${params(ORDER_CASTS.insertEvents, 1)}, ${params(ORDER_CASTS.updateStates, 1 + e)},
    ${params(LEDGER_CASTS, 1 + e + s)}, $${x}::text, $${x + 1}::text, $${x + 2}::int, $${x + 3}::bigint)`;
})();

const GROUP_SQL = (() => {
  const casts = [
    ...ORDER_CASTS.insertOrders,
    ...ORDER_CASTS.insertEvents,
    ...ORDER_CASTS.updateStates,
    ...LEDGER_CASTS,
    'int',
    'bigint',
    'bigint',
    'text',
  ];
  const x = casts.length + 1;
  return `SELECT router_commit_group(${params(casts, 1)}, $${x}::text, $${x + 1}::text[], $${x + 2}::int[], $${x + 3}::bigint[])`;
})();

const offsetParams = (o: BatchOffset): unknown[] => [o.groupId, o.topic, o.partition, o.nextOffset];

/** A consumed batch of either input topic, for a group commit. */
export type RouterBatch =
  { kind: 'commands'; batch: CommandsBatch } | { kind: 'updates'; batch: UpdatesBatch };

/**
 * The order-router's write of one consumed batch as a single statement (a PL/pgSQL function,
 * migration SettlementWritePath): atomic by itself, one round trip, the same effects as the
 * repositories' separate writes in one transaction (orders and events idempotent on replay, the
 * ledger moving balances only for new entries, the consumer offset after the batch).
 */
export class RouterBatchRepository {
  constructor(private readonly db: DataSource) {}

  async commitCommands(b: CommandsBatch, db: DataSource | EntityManager = this.db): Promise<void> {
    const first = b.outbox.rows[0]?.offset ?? null;
    await db.query(COMMANDS_SQL, [
      ...newOrderColumns(b.orders),
      ...orderStateColumns(b.states),
      ...ledgerColumns(b.ledger),
      b.outbox.partition,
      b.outbox.pruneBefore,
      first,
      b.outbox.rows.length ? outboxRecords(b.outbox.rows) : null,
      ...offsetParams(b.offset),
    ]);
  }

  /** One batch through the function of its topic. */
  async commit(b: RouterBatch, db: DataSource | EntityManager = this.db): Promise<void> {
    if (b.kind === 'commands') await this.commitCommands(b.batch, db);
    else await this.commitUpdates(b.batch, db);
  }

  /**
   * Several batches (of different topic-partitions, all of one consumer group) as one statement:
   * the same rows as committing each on its own, in one transaction and one WAL flush
   * (router_commit_group, migration RouterGroupCommit).
   */
  async commitGroup(group: RouterBatch[], db: DataSource | EntityManager = this.db): Promise<void> {
    if (group.length === 0) return;
    if (group.length === 1) return this.commit(group[0], db);
    const orders: NewOrderRow[] = [];
    const events: OrderEventRow[] = [];
    const states: OrderStateRow[] = [];
    const ledger: LedgerRow[] = [];
    const outbox: { partition: number; pruneBefore: number; first: number | null; records: string | null }[] =
      [];
    const offsets: BatchOffset[] = [];
    for (const g of group) {
      const b = g.batch;
      states.push(...b.states);
      ledger.push(...b.ledger);
      offsets.push(b.offset);
      if (g.kind === 'commands') {
        orders.push(...g.batch.orders);
        const rows = g.batch.outbox.rows;
        outbox.push({
          partition: g.batch.outbox.partition,
          pruneBefore: g.batch.outbox.pruneBefore,
          first: rows[0]?.offset ?? null,
          records: rows.length ? outboxRecords(rows) : null,
        });
      } else events.push(...g.batch.events);
    }
    const groupIds = new Set(offsets.map((o) => o.groupId));
    if (groupIds.size !== 1)
      throw new Error(`a group commit spans consumer groups ${[...groupIds].join(', ')}`);
    await db.query(GROUP_SQL, [
      ...newOrderColumns(orders),
      ...orderEventColumns(events),
      ...orderStateColumns(states),
      ...ledgerColumns(ledger),
      ...pgArrays([
        outbox.map((x) => x.partition),
        outbox.map((x) => x.pruneBefore),
        outbox.map((x) => x.first),
        outbox.map((x) => x.records),
      ]),
      offsets[0].groupId,
      ...pgArrays([
        offsets.map((o) => o.topic),
        offsets.map((o) => o.partition),
        offsets.map((o) => o.nextOffset),
      ]),
    ]);
  }

  async commitUpdates(b: UpdatesBatch, db: DataSource | EntityManager = this.db): Promise<void> {
    await db.query(UPDATES_SQL, [
      ...orderEventColumns(b.events),
      ...orderStateColumns(b.states),
      ...ledgerColumns(b.ledger),
      ...offsetParams(b.offset),
    ]);
  }
}
