import type { DataSource } from 'typeorm';
import { databaseSchema, loadConfig } from '@trading/config';
import { AccountStreamRepository } from './repositories/account-stream.repository';
import { BalancesRepository, type LedgerRow } from './repositories/balances.repository';
import { ConsumerOffsetsRepository } from './repositories/consumer-offsets.repository';
import { OrdersRepository, type NewOrderRow, type OrderEventRow } from './repositories/orders.repository';
import { ReconciliationRepository } from './repositories/reconciliation.repository';
import {
  RouterBatchRepository,
  type CommandsBatch,
  type RouterBatch as GroupMember,
  type StreamBatch,
  type AmendsInFlight,
  type UpdatesBatch,
} from './repositories/router-batch.repository';
import { RouterOutboxRepository } from './repositories/router-outbox.repository';
import { TradesRepository, type TradeInsert } from './repositories/trades.repository';
import { MIGRATIONS } from './schema';
import { createScratchDatabase, tableChecksum, type ScratchDatabase } from './testing/scratch-database';

// Kafka delivers at least once: after a crash a consumer gets the same records again, possibly
// after a batch was half written. The batch writers must make that harmless. On a scratch
// database: the order-router's batch (orders, ledger + balances, order events, its consumer
// offset, in one transaction) and market-data's trade batch, each written twice, once after a
// crash in the middle of the transaction, and mixed with new records.
const config = loadConfig(databaseSchema);

const order = (n: number): NewOrderRow => ({
  orderId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
  accountId: `acct-${n % 2}`,
  symbol: 'BTC-USDT',
  clientOrderId: `c-${n}`,
  side: n % 2 ? 'sell' : 'buy',
  orderType: 'limit',
  tif: 'GTC',
  postOnly: false,
  price: 3_000_000,
  stopPrice: null,
  displayQty: null,
  qty: 5,
  status: 'new',
  reason: null,
  receivedAt: Date.UTC(2025, 0, 1) + n,
  protectionPrice: null,
  quoteBudget: null,
  holdAsset: n % 2 ? 'BTC' : 'USDT',
  holdRemaining: n % 2 ? 50_000n : 15_030_000n,
  makerFeeBps: 10,
  takerFeeBps: 20,
});

/** The ledger row releasing a placed order's whole hold at engine seq `seq`. */
const releaseOf = (o: NewOrderRow, seq: number): LedgerRow => ({
  key: `BTC-USDT:${seq}:${o.orderId}:release`,
  accountId: o.accountId,
  asset: o.holdAsset!,
  availableDelta: o.holdRemaining,
  heldDelta: -o.holdRemaining,
  kind: 'release',
  ref: `BTC-USDT:${seq}`,
});

interface RouterBatch {
  orders: NewOrderRow[];
  ledger: LedgerRow[];
  events: OrderEventRow[];
  nextOffset: number;
}

function routerBatch(from: number, to: number): RouterBatch {
  const orders: NewOrderRow[] = [];
  const ledger: LedgerRow[] = [];
  const events: OrderEventRow[] = [];
  for (let n = from; n < to; n++) {
    const o = order(n);
    orders.push(o);
    ledger.push({
      key: `BTC-USDT:${n}:${o.orderId}:hold`,
      accountId: o.accountId,
      asset: o.holdAsset!,
      availableDelta: -o.holdRemaining,
      heldDelta: o.holdRemaining,
      kind: 'hold',
      ref: `BTC-USDT:${n}`,
    });
    events.push({
      symbol: 'BTC-USDT',
      seq: n,
      orderId: o.orderId,
      accountId: o.accountId,
      type: 'accepted',
      payload: { type: 'accepted', seq: n },
      emittedAt: Date.UTC(2025, 0, 1) + n,
    });
  }
  return { orders, ledger, events, nextOffset: to };
}

/** A router batch of updates carrying only what a test gives it (no events, states or ledger otherwise). */
const updatesBatch = (
  groupId: string,
  partition: number,
  nextOffset: number,
  rest: Partial<UpdatesBatch> = {},
): GroupMember => ({
  kind: 'updates',
  batch: {
    events: [],
    states: [],
    ledger: [],
    offset: { groupId, topic: 'orders.updates.v2', partition, nextOffset },
    ...rest,
  },
});

/** A hold that would take acct-0's USDT below zero: a batch carrying it fails as a whole. */
const overdraw = (ref: string): LedgerRow => ({
  key: `${ref}:overdraw`,
  accountId: 'acct-0',
  asset: 'USDT',
  availableDelta: -(10n ** 15n),
  heldDelta: 0n,
  kind: 'hold',
  ref,
});

describe('write batches under redelivery', () => {
  jest.setTimeout(60_000);
  let scratch: ScratchDatabase;
  let ds: DataSource;
  let orders: OrdersRepository;
  let balances: BalancesRepository;
  let offsets: ConsumerOffsetsRepository;

  /** The router's write of one consumed batch: all or nothing, offset included. */
  const write = async (b: RouterBatch, crashAfterLedger = false): Promise<number> =>
    ds.transaction(async (tx) => {
      await orders.insertNew(b.orders, tx);
      const moved = await balances.post(b.ledger, tx);
      if (crashAfterLedger) throw new Error('crash in the middle of the batch');
      await orders.insertEvents(b.events, tx);
      await offsets.save('order-router', 'orders.commands.v1', 0, b.nextOffset, tx);
      return moved;
    });

  const state = async () => ({
    orders: await tableChecksum(ds, 'orders', ['order_id', 'status', 'hold_remaining']),
    ledger: await tableChecksum(ds, 'ledger', ['entry_key', 'available_delta', 'held_delta']),
    balances: await tableChecksum(ds, 'balances', ['account_id', 'asset', 'available', 'held']),
    events: await tableChecksum(ds, 'order_events', ['symbol', 'seq', 'order_id']),
    offset: await offsets.load('order-router', 'orders.commands.v1', 0),
  });

  beforeAll(async () => {
    scratch = await createScratchDatabase(config, 'batchtest');
    ds = scratch.dataSource('batchtest', MIGRATIONS);
    await ds.initialize();
    await ds.runMigrations({ transaction: 'each' });
    await ds.query(`INSERT INTO assets (code, decimals) VALUES ('USDT', 6), ('BTC', 8)`);
    orders = new OrdersRepository(ds);
    balances = new BalancesRepository(ds);
    offsets = new ConsumerOffsetsRepository(ds);
    // Funds for the holds.
    const deposits: LedgerRow[] = ['acct-0', 'acct-1'].flatMap((a) => [
      {
        key: `dep:${a}:USDT`,
        accountId: a,
        asset: 'USDT',
        availableDelta: 10n ** 12n,
        heldDelta: 0n,
        kind: 'deposit',
        ref: a,
      },
      {
        key: `dep:${a}:BTC`,
        accountId: a,
        asset: 'BTC',
        availableDelta: 10n ** 9n,
        heldDelta: 0n,
        kind: 'deposit',
        ref: a,
      },
    ]);
    expect(await balances.post(deposits)).toBe(4);
  });

  afterAll(async () => {
    if (ds?.isInitialized) await ds.destroy();
    await scratch?.drop();
  });

  it('writes a router batch once however often it is delivered, and a crash mid-batch leaves nothing', async () => {
    const first = routerBatch(1, 21);
    const empty = await state();
    // Crash after the ledger: the transaction rolls back, the offset does not move.
    await expect(write(first, true)).rejects.toThrow('crash');
    expect(await state()).toEqual(empty);

    expect(await write(first)).toBe(20);
    const once = await state();
    expect(once.orders.rows).toBe(20);
    expect(once.ledger.rows).toBe(4 + 20);
    expect(once.events.rows).toBe(20);
    expect(once.offset).toBe(21);

    // Redelivered as is: nothing new, no money moved twice.
    expect(await write(first)).toBe(0);
    expect(await state()).toEqual(once);

    // Redelivered together with new records (the consumer re-read from an older offset).
    const overlapping = routerBatch(11, 31);
    expect(await write(overlapping)).toBe(10);
    const after = await state();
    expect(after.orders.rows).toBe(30);
    expect(after.ledger.rows).toBe(4 + 30);
    expect(after.events.rows).toBe(30);
    expect(await new ReconciliationRepository(ds).ledgerReplay()).toEqual([]);
    expect(await new ReconciliationRepository(ds).conservation()).toEqual([]);
    // Each order's hold counted once in its account's held balance.
    const [{ held }] = (await ds.query(
      `SELECT sum(held)::text AS held FROM balances WHERE account_id = 'acct-0' AND asset = 'USDT'`,
    )) as { held: string }[];
    expect(BigInt(held)).toBe(15n * 15_030_000n);
  });

  it('commits a router batch as one statement: all or nothing, and once however often it is delivered', async () => {
    const batches = new RouterBatchRepository(ds);
    const outbox = new RouterOutboxRepository(ds);
    const group = 'order-router-single';
    const commands = (b: RouterBatch, ledger = b.ledger): CommandsBatch => ({
      orders: b.orders,
      states: [],
      ledger,
      outbox: {
        partition: 1,
        pruneBefore: b.nextOffset - b.orders.length,
        rows: b.orders.map((o, i) => ({
          partition: 1,
          offset: b.nextOffset - b.orders.length + i,
          topic: 'orders.sequenced.v1',
          key: o.symbol,
          payload: JSON.stringify({ orderId: o.orderId }),
        })),
      },
      offset: { groupId: group, topic: 'orders.commands.v1', partition: 1, nextOffset: b.nextOffset },
    });
    const offset = () => new ConsumerOffsetsRepository(ds).load(group, 'orders.commands.v1', 1);
    const first = routerBatch(101, 111);
    const empty = await state();

    // A hold larger than the account has fails the balance CHECK: nothing of the batch stays.
    const overdrawn = first.ledger.map((l, i) =>
      i === 5 ? { ...l, availableDelta: -(10n ** 13n), heldDelta: 10n ** 13n } : l,
    );
    await expect(batches.commitCommands(commands(first, overdrawn))).rejects.toThrow(/check constraint/);
    expect(await state()).toEqual(empty);
    expect(await offset()).toBeNull();
    expect(await outbox.pending(1)).toEqual([]);

    await batches.commitCommands(commands(first));
    const once = await state();
    expect(once.orders.rows).toBe(empty.orders.rows + 10);
    expect(once.ledger.rows).toBe(empty.ledger.rows + 10);
    expect(await offset()).toBe(111);
    expect((await outbox.pending(1)).map((r) => r.offset)).toEqual([
      101, 102, 103, 104, 105, 106, 107, 108, 109, 110,
    ]);

    // Redelivered: no order, ledger row or balance move twice.
    await batches.commitCommands(commands(first));
    expect(await state()).toEqual(once);

    // The next batch prunes the outbox rows of this one (they were sent before it started).
    const second = routerBatch(111, 116);
    await batches.commitCommands(commands(second));
    expect((await outbox.pending(1)).map((r) => r.offset)).toEqual([111, 112, 113, 114, 115]);

    // An updates batch: events once, a state only moving forward, settlement once, the offset.
    const filled = {
      ...first.orders[0],
      filledQty: 5,
      filledNotional: 15_000_000n,
      lastSeq: 7,
      holdRemaining: 0n,
    };
    const release = releaseOf(first.orders[0], 7);
    const updates = {
      events: [{ ...first.events[0], seq: 7, type: 'cancelled', payload: { type: 'cancelled', seq: 7 } }],
      states: [{ ...filled, orderType: 'limit' as const, status: 'cancelled' as const }],
      ledger: [release],
      offset: { groupId: group, topic: 'orders.updates.v1', partition: 1, nextOffset: 8 },
    };
    await batches.commitUpdates(updates);
    const settled = await state();
    expect(settled.events.rows).toBe(once.events.rows + 1);
    expect(settled.ledger.rows).toBe(once.ledger.rows + 5 + 1);
    await batches.commitUpdates(updates);
    expect(await state()).toEqual(settled);
    expect(await new ReconciliationRepository(ds).ledgerReplay()).toEqual([]);
    expect(await new ReconciliationRepository(ds).conservation()).toEqual([]);
    expect(
      await ds.query(`SELECT status, hold_remaining::text AS held FROM orders WHERE order_id = $1`, [
        filled.orderId,
      ]),
    ).toEqual([{ status: 'cancelled', held: '0' }]);
  });

  it('commits the batches of several partitions as one statement (group commit): all or nothing, once', async () => {
    const batches = new RouterBatchRepository(ds);
    const outbox = new RouterOutboxRepository(ds);
    const group = 'order-router-group';
    const commands = (p: number, b: RouterBatch, ledger = b.ledger): GroupMember => ({
      kind: 'commands',
      batch: {
        orders: b.orders,
        states: [],
        ledger,
        outbox: {
          partition: p,
          pruneBefore: b.nextOffset - b.orders.length,
          rows: b.orders.map((o, i) => ({
            partition: p,
            offset: b.nextOffset - b.orders.length + i,
            topic: 'orders.sequenced.v1',
            key: o.symbol,
            payload: JSON.stringify({ orderId: o.orderId }),
          })),
        },
        offset: { groupId: group, topic: 'orders.commands.v1', partition: p, nextOffset: b.nextOffset },
      },
    });
    const offset = (topic: string, p: number) => new ConsumerOffsetsRepository(ds).load(group, topic, p);
    const a = routerBatch(201, 206);
    const b = routerBatch(301, 304);
    const empty = await state();

    // One member fails the balance CHECK: nothing of any member stays.
    const overdrawn = b.ledger.map((l, i) =>
      i === 1 ? { ...l, availableDelta: -(10n ** 13n), heldDelta: 10n ** 13n } : l,
    );
    await expect(batches.commitGroup([commands(4, a), commands(5, b, overdrawn)])).rejects.toThrow(
      /check constraint/,
    );
    expect(await state()).toEqual(empty);
    expect(await offset('orders.commands.v1', 4)).toBeNull();
    expect(await outbox.pending(4)).toEqual([]);

    await batches.commitGroup([commands(4, a), commands(5, b)]);
    const once = await state();
    expect(once.orders.rows).toBe(empty.orders.rows + 8);
    expect(once.ledger.rows).toBe(empty.ledger.rows + 8);
    expect(await offset('orders.commands.v1', 4)).toBe(206);
    expect(await offset('orders.commands.v1', 5)).toBe(304);
    expect((await outbox.pending(4)).map((r) => r.offset)).toEqual([201, 202, 203, 204, 205]);
    expect((await outbox.pending(5)).map((r) => r.offset)).toEqual([301, 302, 303]);

    // Redelivered as a group, or one member on its own: nothing twice.
    await batches.commitGroup([commands(4, a), commands(5, b)]);
    await batches.commit(commands(5, b));
    expect(await state()).toEqual(once);

    // Commands and updates of different partitions in one group: partition 4's next batch prunes
    // its outbox, partition 5's order 301 is cancelled and its hold released, both offsets move.
    const next = routerBatch(206, 208);
    const cancelled = { ...b.orders[0], filledQty: 0, filledNotional: 0n, lastSeq: 9, holdRemaining: 0n };
    const release = releaseOf(b.orders[0], 9);
    const updates: GroupMember = {
      kind: 'updates',
      batch: {
        events: [{ ...b.events[0], seq: 9, type: 'cancelled', payload: { type: 'cancelled', seq: 9 } }],
        states: [{ ...cancelled, orderType: 'limit', status: 'cancelled' }],
        ledger: [release],
        offset: { groupId: group, topic: 'orders.updates.v2', partition: 5, nextOffset: 42 },
      },
    };
    await batches.commitGroup([commands(4, next), updates]);
    const settled = await state();
    expect(settled.orders.rows).toBe(once.orders.rows + 2);
    expect(settled.events.rows).toBe(once.events.rows + 1);
    expect(settled.ledger.rows).toBe(once.ledger.rows + 2 + 1);
    expect((await outbox.pending(4)).map((r) => r.offset)).toEqual([206, 207]);
    expect((await outbox.pending(5)).map((r) => r.offset)).toEqual([301, 302, 303]);
    expect(await offset('orders.commands.v1', 4)).toBe(208);
    expect(await offset('orders.updates.v2', 5)).toBe(42);
    await batches.commitGroup([commands(4, next), updates]);
    expect(await state()).toEqual(settled);
    expect(
      await ds.query(`SELECT status, hold_remaining::text AS held FROM orders WHERE order_id = $1`, [
        cancelled.orderId,
      ]),
    ).toEqual([{ status: 'cancelled', held: '0' }]);
    expect(await new ReconciliationRepository(ds).ledgerReplay()).toEqual([]);
    expect(await new ReconciliationRepository(ds).conservation()).toEqual([]);

    // One group never spans consumer groups (the offsets are stored under one group id).
    const other = commands(6, routerBatch(401, 402));
    if (other.kind === 'commands') other.batch.offset.groupId = 'someone-else';
    await expect(batches.commitGroup([commands(4, next), other])).rejects.toThrow(/spans consumer groups/);
  });

  it('writes the own-orders stream (seqs, outbox) with the batch, alone or in a group, and prunes what was sent', async () => {
    const batches = new RouterBatchRepository(ds);
    const stream = new AccountStreamRepository(ds);
    const group = 'order-router-stream';
    const updates = (p: number, nextOffset: number, stream?: StreamBatch, ledger: LedgerRow[] = []) =>
      updatesBatch(group, p, nextOffset, { stream, ledger });
    const records = (accountId: string, ...seqs: number[]) =>
      JSON.stringify(seqs.map((seq) => ({ accountId, seq, data: { type: 'balance' } })));
    await batches.commit(updates(1, 10, { partition: 1, records: records('s-a', 1, 2), seqs: [['s-a', 2]] }));
    expect(await stream.seqs(['s-a', 's-b'])).toEqual(
      new Map([
        ['s-a', 2],
        ['s-b', 0],
      ]),
    );
    expect(await stream.pending(1)).toEqual([records('s-a', 1, 2)]);
    // A group: partition 1's earlier row was sent (it goes), partition 2's first row stays; a
    // repeated commit of an older seq never moves the stored seq back.
    await batches.commitGroup([
      updates(1, 11, { partition: 1, records: records('s-a', 3), seqs: [['s-a', 3]] }),
      updates(2, 5, { partition: 2, records: records('s-b', 1), seqs: [['s-b', 1]] }),
      updates(3, 7, { partition: 3, records: null, seqs: [['s-c', 9]] }),
    ]);
    expect(await stream.pending(1)).toEqual([records('s-a', 3)]);
    expect(await stream.pending(2)).toEqual([records('s-b', 1)]);
    expect(await stream.pending(3)).toEqual([]);
    await batches.commit(updates(2, 5, { partition: 2, records: records('s-b', 1), seqs: [['s-b', 1]] }));
    await batches.commit(updates(1, 12, { partition: 1, records: null, seqs: [['s-a', 1]] }));
    expect(await stream.seqs(['s-a', 's-b', 's-c'])).toEqual(
      new Map([
        ['s-a', 3],
        ['s-b', 1],
        ['s-c', 9],
      ]),
    );
    expect(await stream.pending(1)).toEqual([]);
    // A batch that fails (here: a balance would go negative) writes none of its stream.
    await expect(
      batches.commit(
        updates(4, 1, { partition: 4, records: records('s-d', 1), seqs: [['s-d', 1]] }, [overdraw('s-d')]),
      ),
    ).rejects.toThrow(/balances_available_check/);
    expect(await stream.pending(4)).toEqual([]);
    expect((await stream.seqs(['s-d'])).get('s-d')).toBe(0);
  });

  it('writes amends in flight with the batch, alone, with the stream or in a group (the last list wins), and nothing of a failed batch', async () => {
    const batches = new RouterBatchRepository(ds);
    const group = 'order-router-amends';
    const updates = (p: number, nextOffset: number, amends: AmendsInFlight, ledger: LedgerRow[] = []) =>
      updatesBatch(group, p, nextOffset, { amends, ledger });
    const list = (...amends: { price?: number; qty?: number }[]) => JSON.stringify(amends);
    await batches.commit(
      updates(1, 1, [
        ['am-1', list({ price: 120 }, { qty: 5 })],
        ['am-2', list({ qty: 2 })],
      ]),
    );
    expect(await orders.findAmendsInFlight(['am-1', 'am-2', 'am-3'])).toEqual(
      new Map([
        ['am-1', [{ price: 120 }, { qty: 5 }]],
        ['am-2', [{ qty: 2 }]],
      ]),
    );
    // With the stream too; am-1 answered once (its list shrinks), am-2 answered for good (its row goes).
    await batches.commit({
      kind: 'updates',
      batch: {
        ...updates(1, 2, [
          ['am-1', list({ qty: 5 })],
          ['am-2', null],
        ]).batch,
        stream: { partition: 1, records: null, seqs: [['am-acct', 1]] },
      },
    } as GroupMember);
    expect(await orders.findAmendsInFlight(['am-1', 'am-2'])).toEqual(new Map([['am-1', [{ qty: 5 }]]]));
    // A group where one order's list changes in two members (in the router: its partition's batch
    // of commands and of updates): the later member's list is stored.
    await batches.commitGroup([
      updates(1, 3, [
        ['am-1', list({ qty: 5 }, { qty: 7 })],
        ['am-3', list({ price: 1 })],
      ]),
      updates(2, 1, [['am-4', list({ qty: 1 })]]),
      updates(3, 4, [['am-1', null]]),
    ]);
    expect(await orders.findAmendsInFlight(['am-1', 'am-3', 'am-4'])).toEqual(
      new Map([
        ['am-3', [{ price: 1 }]],
        ['am-4', [{ qty: 1 }]],
      ]),
    );
    // A batch that fails writes none of its amends.
    await expect(
      batches.commit(updates(3, 1, [['am-5', list({ qty: 9 })]], [overdraw('am')])),
    ).rejects.toThrow(/balances_available_check/);
    expect(await orders.findAmendsInFlight(['am-5'])).toEqual(new Map());
  });

  it('stores a market-data trade batch once when the same executions arrive again', async () => {
    const trades = new TradesRepository(ds);
    const batch: TradeInsert[] = Array.from({ length: 10 }, (_, i) => ({
      symbol: 'BTC-USDT',
      seq: 100 + i,
      price: 3_000_000 + i,
      qty: 1 + i,
      makerOrderId: order(2 * i).orderId,
      takerOrderId: order(2 * i + 1).orderId,
      makerAccountId: 'acct-0',
      takerAccountId: 'acct-1',
      takerSide: 'sell',
      receivedAt: new Date(Date.UTC(2025, 0, 1, 0, 0, i)),
      executedAt: new Date(Date.UTC(2025, 0, 1, 0, 0, i, 5)),
    }));
    expect(await trades.insertBatch(batch)).toHaveLength(10);
    const once = await tableChecksum(ds, 'trades');
    expect(await trades.insertBatch(batch)).toEqual([]);
    expect(await trades.insertBatch([...batch.slice(5), { ...batch[0], seq: 200 }])).toEqual([
      { symbol: 'BTC-USDT', seq: 200 },
    ]);
    const after = await tableChecksum(ds, 'trades');
    expect(after.rows).toBe(once.rows + 1);
  });
});
