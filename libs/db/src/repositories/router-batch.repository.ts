import type { DataSource, EntityManager } from 'typeorm';
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

const offsetParams = (o: BatchOffset): unknown[] => [o.groupId, o.topic, o.partition, o.nextOffset];

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

  async commitUpdates(b: UpdatesBatch, db: DataSource | EntityManager = this.db): Promise<void> {
    await db.query(UPDATES_SQL, [
      ...orderEventColumns(b.events),
      ...orderStateColumns(b.states),
      ...ledgerColumns(b.ledger),
      ...offsetParams(b.offset),
    ]);
  }
}
