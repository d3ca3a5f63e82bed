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

/**
 * A batch's own-orders stream (ADR 0014): its records (account.events.v1 messages, JSON, in send
 * order; null: none) and each account's new last seq, written in the batch's transaction. The
 * partition's earlier outbox rows go in the same statement: they were sent before the batch began.
 */
export interface StreamBatch {
  partition: number;
  records: string | null;
  seqs: [accountId: string, seq: number][];
}

/** Orders whose amends in flight changed in the batch: the JSON list as it now stands, null when none is left. */
export type AmendsInFlight = [orderId: string, amends: string | null][];

export interface CommandsBatch {
  orders: NewOrderRow[];
  /** Orders whose hold grew (amends). */
  states: OrderStateRow[];
  ledger: LedgerRow[];
  /** Routed commands of this batch; outbox rows before `pruneBefore` were sent already. */
  outbox: { partition: number; pruneBefore: number; rows: OutboxRow[] };
  offset: BatchOffset;
  stream?: StreamBatch;
  amends?: AmendsInFlight;
}

export interface UpdatesBatch {
  events: OrderEventRow[];
  states: OrderStateRow[];
  ledger: LedgerRow[];
  offset: BatchOffset;
  stream?: StreamBatch;
  amends?: AmendsInFlight;
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

/**
 * Writes that ride in front of a commit function's SELECT as data-modifying CTEs, parameters from
 * `from`: one statement, so they commit or fail with the batch (PostgreSQL runs every
 * data-modifying CTE whether the main query reads it or not).
 */
interface Ctes {
  params: number;
  sql: (from: number) => string;
}

/** The own-orders stream (ADR 0014): the partitions' sent outbox rows go, the batch's records and seqs come. */
const STREAM_CTES: Ctes = {
  params: 5,
  sql: (
    from,
  ) => `stream_sent AS (DELETE FROM account_events_outbox WHERE router_partition = ANY($${from}::int[])),
  stream_outbox AS (INSERT INTO account_events_outbox (router_partition, records)
    SELECT p, r FROM unnest($${from + 1}::int[], $${from + 2}::text[]) AS t(p, r)),
  stream_seq AS (INSERT INTO account_stream_seq (account_id, seq)
    SELECT a, q FROM unnest($${from + 3}::text[], $${from + 4}::bigint[]) AS t(a, q)
    ON CONFLICT (account_id) DO UPDATE SET seq = GREATEST(account_stream_seq.seq, EXCLUDED.seq))`,
};

/** Amends in flight: orders with none left lose their row, the others' lists replace theirs (disjoint sets). */
const AMENDS_CTES: Ctes = {
  params: 3,
  sql: (from) => `amends_gone AS (DELETE FROM order_amends_in_flight WHERE order_id = ANY($${from}::text[])),
  amends_kept AS (INSERT INTO order_amends_in_flight (order_id, amends)
    SELECT o, a FROM unnest($${from + 1}::text[], $${from + 2}::text[]) AS t(o, a)
    ON CONFLICT (order_id) DO UPDATE SET amends = EXCLUDED.amends)`,
};

/** The parameters of STREAM_CTES for the batches of one statement. */
function streamParams(streams: (StreamBatch | undefined)[]): unknown[] {
  const pruned = new Set<number>();
  const withRecords: StreamBatch[] = [];
  const accounts: string[] = [];
  const seqs: number[] = [];
  for (const s of streams) {
    if (!s) continue;
    pruned.add(s.partition);
    if (s.records !== null) withRecords.push(s);
    for (const [a, q] of s.seqs) {
      accounts.push(a);
      seqs.push(q);
    }
  }
  return pgArrays([
    [...pruned],
    withRecords.map((s) => s.partition),
    withRecords.map((s) => s.records),
    accounts,
    seqs,
  ]);
}

/** The parameters of AMENDS_CTES for the batches of one statement, in commit order (the last list of an order wins). */
function amendsParams(batches: (AmendsInFlight | undefined)[]): unknown[] {
  const last = new Map<string, string | null>();
  for (const b of batches) for (const [id, list] of b ?? []) last.set(id, list);
  const gone: string[] = [];
  const kept: [string, string][] = [];
  for (const [id, list] of last) {
    if (list === null) gone.push(id);
    else kept.push([id, list]);
  }
  return pgArrays([gone, kept.map(([id]) => id), kept.map(([, list]) => list)]);
}

const lastParam = (sql: string): number =>
  (sql.match(/\$\d+/g) ?? []).reduce((m, p) => Math.max(m, Number(p.slice(1))), 0);

const statements = new Map<string, string>();
/** A commit function's statement with the CTEs the batch needs in front, their parameters after its own. */
function statement(name: 'commands' | 'updates' | 'group', stream: boolean, amends: boolean): string {
  const key = `${name}:${stream}:${amends}`;
  let sql = statements.get(key);
  if (sql === undefined) {
    const base = name === 'commands' ? COMMANDS_SQL : name === 'updates' ? UPDATES_SQL : GROUP_SQL;
    let next = lastParam(base) + 1;
    const ctes: string[] = [];
    for (const [wanted, c] of [
      [stream, STREAM_CTES],
      [amends, AMENDS_CTES],
    ] as const) {
      if (!wanted) continue;
      ctes.push(c.sql(next));
      next += c.params;
    }
    sql = ctes.length > 0 ? `WITH ${ctes.join(',\n  ')}\n  ${base}` : base;
    statements.set(key, sql);
  }
  return sql;
}

const hasAmends = (a: AmendsInFlight | undefined): boolean => a !== undefined && a.length > 0;

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
    const amends = hasAmends(b.amends);
    await db.query(statement('commands', b.stream !== undefined, amends), [
      ...newOrderColumns(b.orders),
      ...orderStateColumns(b.states),
      ...ledgerColumns(b.ledger),
      b.outbox.partition,
      b.outbox.pruneBefore,
      first,
      b.outbox.rows.length ? outboxRecords(b.outbox.rows) : null,
      ...offsetParams(b.offset),
      ...(b.stream ? streamParams([b.stream]) : []),
      ...(amends ? amendsParams([b.amends]) : []),
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
    const streams = group.map((g) => g.batch.stream);
    const stream = streams.some((x) => x !== undefined);
    const amends = group.some((g) => hasAmends(g.batch.amends));
    await db.query(statement('group', stream, amends), [
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
      ...(stream ? streamParams(streams) : []),
      ...(amends ? amendsParams(group.map((g) => g.batch.amends)) : []),
    ]);
  }

  async commitUpdates(b: UpdatesBatch, db: DataSource | EntityManager = this.db): Promise<void> {
    const amends = hasAmends(b.amends);
    await db.query(statement('updates', b.stream !== undefined, amends), [
      ...orderEventColumns(b.events),
      ...orderStateColumns(b.states),
      ...ledgerColumns(b.ledger),
      ...offsetParams(b.offset),
      ...(b.stream ? streamParams([b.stream]) : []),
      ...(amends ? amendsParams([b.amends]) : []),
    ]);
  }
}
