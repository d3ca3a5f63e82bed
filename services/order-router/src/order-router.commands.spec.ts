import { Logger } from '@nestjs/common';
import type { KafkaMessage } from 'kafkajs';
import { TOPICS, type OrderCommand, type OrderUpdate } from '@trading/contracts';
import type { BalanceRow, CommandsBatch, LedgerRow } from '@trading/db';
import { order, P, placeCommand as place, record, routerHarness, SYMBOL } from './testing/router-harness';

// The router's command path through its real onBatch, with in-memory repositories: the risk engine
// decides (its own specs cover how); this covers what the service makes of each decision: the
// rows it commits with the offset, the commands it sends to matching after the commit, the
// stream updates, dead letters and metrics, and the engine it rebuilds from the database.

const COMMANDS = TOPICS.orderCommands.name;
// 1 tick x 1 lot of AB-USDT is 10 USDT units: a buy of 3 lots at 100 holds 3,000.
const usdt = (accountId: string, available: bigint, held = 0n): BalanceRow => ({
  accountId,
  asset: 'USDT',
  available,
  held,
});

let n = 0;
const touch = (kind: 'cancel' | 'amend', orderId: string, over: object = {}): OrderCommand =>
  ({
    kind,
    commandId: `t${++n}`,
    accountId: 'a1',
    orderId,
    symbol: SYMBOL,
    receivedAt: 1_000,
    ...over,
  }) as OrderCommand;
const money = (kind: 'deposit' | 'withdraw', commandId: string, amount: number): OrderCommand => ({
  kind,
  commandId,
  accountId: 'a1',
  asset: 'USDT',
  amount,
  receivedAt: 1_000,
});

function harness(seed: Parameters<typeof routerHarness>[0] = {}) {
  const h = routerHarness({ balances: [usdt('a1', 10_000n)], ...seed });
  let offset = 100;
  return {
    ...h,
    /** One batch of commands at the next offsets. */
    run: (...commands: (OrderCommand | string)[]) =>
      h.deliver(
        COMMANDS,
        commands.map((c) => record(offset++, c)),
      ),
    /** The committed batches of commands. */
    get batches(): CommandsBatch[] {
      return h.committed.flatMap((b) => (b.kind === 'commands' ? [b.batch] : []));
    },
    /** What the last batch published on the accounts' private channels. */
    get stream() {
      return Object.fromEntries(h.published.at(-1)!.stream);
    },
  };
}

describe('OrderRouterService on orders.commands.v1', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('commits a placement (order row, hold, outbox, offset) and only then sends it to matching', async () => {
    const h = harness();
    const cmd = place({ clientOrderId: 'k1' });
    const resolved = await h.run(cmd);
    expect(resolved).toEqual(['100']);
    const [b] = h.batches;
    expect(b.orders).toEqual([
      expect.objectContaining({
        orderId: cmd.orderId,
        clientOrderId: 'k1',
        status: 'pending',
        reason: null,
        holdAsset: 'USDT',
        holdRemaining: 3000n,
      }),
    ]);
    expect(b.ledger).toEqual([
      {
        key: `cmd:${P}:100:${cmd.orderId}:hold`,
        accountId: 'a1',
        asset: 'USDT',
        availableDelta: -3000n,
        heldDelta: 3000n,
        kind: 'hold',
        ref: `cmd:${P}:100`,
      },
    ]);
    expect(b.states).toEqual([]);
    expect(b.offset).toEqual({ groupId: 'order-router', topic: COMMANDS, partition: P, nextOffset: 101 });
    expect(b.outbox.partition).toBe(P);
    expect(b.outbox.pruneBefore).toBe(100);
    expect(b.outbox.rows).toEqual([
      expect.objectContaining({ partition: P, offset: 100, topic: TOPICS.ordersSequenced.name, key: SYMBOL }),
    ]);
    // What goes to matching is the outbox row as it was committed.
    expect(h.sent).toEqual([
      {
        topic: TOPICS.ordersSequenced.name,
        key: SYMBOL,
        partition: expect.any(Number),
        value: JSON.parse(b.outbox.rows[0].payload),
      },
    ]);
    expect(h.sent[0].value).toEqual({
      symbol: SYMBOL,
      accountId: 'a1',
      receivedAt: 1_000,
      routedAt: expect.any(Number),
      command: {
        type: 'new',
        orderId: cmd.orderId,
        accountId: 'a1',
        side: 'buy',
        orderType: 'limit',
        qty: 3,
        price: 100,
        tif: 'GTC',
        stp: 'none',
      },
      source: { partition: P, offset: 100 },
    });
    expect(h.stream).toEqual({
      a1: [expect.objectContaining({ orderId: cmd.orderId, status: 'pending', reason: null, qty: 3 })],
    });
    expect(await h.metric('router_commands_routed_total')).toEqual({ 'kind=place': 1 });
    expect(await h.metric('ledger_entries_total')).toEqual({ 'kind=hold': 1 });
  });

  it('stores a refused placement as rejected, tells its account, counts the reason and routes nothing', async () => {
    const h = harness();
    const first = place();
    const broke = place({ qty: 8 }); // 8,000 > the 7,000 left after the first
    const unknown = place({ symbol: 'ZZ-USDT' });
    await h.run(first, broke, unknown);
    const [b] = h.batches;
    expect(b.orders.map((o) => [o.orderId, o.status, o.reason])).toEqual([
      [first.orderId, 'pending', null],
      [broke.orderId, 'rejected', 'INSUFFICIENT_FUNDS'],
      [unknown.orderId, 'rejected', 'UNKNOWN_SYMBOL'],
    ]);
    expect(b.outbox.rows).toHaveLength(1);
    expect(h.sent).toHaveLength(1);
    expect(h.stream).toEqual({
      a1: [
        expect.objectContaining({ orderId: first.orderId, status: 'pending', reason: null }),
        expect.objectContaining({ orderId: broke.orderId, status: 'rejected', reason: 'INSUFFICIENT_FUNDS' }),
        expect.objectContaining({ orderId: unknown.orderId, status: 'rejected', reason: 'UNKNOWN_SYMBOL' }),
      ],
    });
    expect(await h.metric('orders_rejected_total')).toEqual({
      'reason=INSUFFICIENT_FUNDS': 1,
      'reason=UNKNOWN_SYMBOL': 1,
    });
  });

  it('drops a retry of a stored clientOrderId (its accepted-order record goes) and refuses the id for another order', async () => {
    const h = harness({ clientOrderIds: new Map([['a1\u0000k9', 'stored']]) });
    const retry = place({ clientOrderId: 'k9', orderId: 'stored' });
    const other = place({ clientOrderId: 'k9' });
    await h.run(retry, other);
    const [b] = h.batches;
    expect(b.orders).toEqual([]);
    expect(b.ledger).toEqual([]);
    expect(h.sent).toEqual([]);
    expect(h.published[0].forget).toEqual(['stored']);
    expect(h.stream).toEqual({
      a1: [expect.objectContaining({ orderId: other.orderId, reason: 'DUPLICATE_CLIENT_ORDER_ID' })],
    });
    expect(await h.metric('router_place_retries_total')).toEqual({ '': 1 });
    // The next batch finds this batch's placement in the database.
    const first = place({ clientOrderId: 'k1' });
    await h.run(first);
    await h.run({ ...first, commandId: 'again' });
    expect(h.batches[2].orders).toEqual([]);
    expect(h.published.at(-1)!.forget).toEqual([first.orderId]);
  });

  it('routes a cancel and an amend of an order placed in the same batch, holding the extra of an amend up', async () => {
    const h = harness();
    const cmd = place();
    await h.run(
      cmd,
      touch('amend', cmd.orderId, { qty: 5 }),
      touch('cancel', cmd.orderId),
      touch('cancel', 'nope'),
    );
    const [b] = h.batches;
    expect(b.ledger.map((e) => [e.kind, e.heldDelta, e.ref])).toEqual([
      ['hold', 3000n, `cmd:${P}:100`],
      ['hold', 2000n, `cmd:${P}:101`],
    ]);
    expect(b.states).toEqual([expect.objectContaining({ orderId: cmd.orderId, holdRemaining: 5000n })]);
    expect(h.sent.map((s) => (s.value as { command: { type: string } }).command.type)).toEqual([
      'new',
      'amend',
      'cancel',
    ]);
    expect(b.outbox.rows.map((r) => r.offset)).toEqual([100, 101, 102]);
    expect(await h.metric('router_commands_routed_total')).toEqual({
      'kind=place': 1,
      'kind=amend': 1,
      'kind=cancel': 1,
    });
    expect(await h.metric('orders_rejected_total')).toEqual({ 'reason=UNKNOWN_ORDER': 1 });
  });

  it('reads the order of a cancel or amend from the database, and tells the owner of an amend it cannot cover', async () => {
    const stored = order('s1', 'a1', 3, {
      status: 'new',
      lastSeq: 2,
      holdAsset: 'USDT',
      holdRemaining: 3000n,
    });
    const h = harness({ orders: [stored], balances: [usdt('a1', 500n, 3000n)] });
    await h.run(touch('amend', 's1', { qty: 4 }), touch('cancel', 's1', { accountId: 'a2' }));
    expect(h.reads).toEqual([['s1']]);
    expect(h.batches[0].ledger).toEqual([]);
    expect(h.sent).toEqual([]);
    expect(h.stream).toEqual({
      a1: [
        {
          type: 'order',
          orderId: 's1',
          symbol: SYMBOL,
          status: 'new',
          reason: 'AMEND_INSUFFICIENT_FUNDS',
          event: 'amend_rejected',
        },
      ],
    });
    expect(await h.metric('orders_rejected_total')).toEqual({
      'reason=INSUFFICIENT_FUNDS': 1,
      'reason=UNKNOWN_ORDER': 1,
    });
  });

  it('keeps holding for an amend in flight across a rebuild of the partition from the database', async () => {
    // s1: a resting buy of 3 lots at 100 (3,000 held); the owner amends it up to 5 lots.
    const stored = order('s1', 'a1', 3, {
      status: 'new',
      lastSeq: 2,
      holdAsset: 'USDT',
      holdRemaining: 3000n,
    });
    const h = harness({ orders: [stored], balances: [usdt('a1', 10_000n, 3000n)] });
    await h.run(touch('amend', 's1', { qty: 5 }));
    expect(h.batches[0].amends).toEqual([['s1', JSON.stringify([{ qty: 5 }])]]);
    expect(h.batches[0].states).toEqual([expect.objectContaining({ orderId: 's1', holdRemaining: 5000n })]);
    // A batch of updates fails to commit: the partition's engine is rebuilt from the database.
    // Before matching answers the amend, 1 lot of the 3 trades: 4 lots may still rest (the amend
    // applied), so 4,000 stays held, not the 2,000 the order as it stands needs.
    const fill: OrderUpdate = {
      accountId: 'a1',
      orderId: 's1',
      symbol: SYMBOL,
      seq: 3,
      receivedAt: 1,
      emittedAt: 2,
      event: {
        type: 'trade',
        seq: 3,
        price: 100,
        qty: 1,
        makerOrderId: 's1',
        takerOrderId: 'x1',
        makerAccountId: 'a1',
        takerAccountId: 'b1',
        takerSide: 'sell',
        makerRemainingQty: 2,
        takerRemainingQty: 0,
      },
    };
    const updates = TOPICS.orderUpdates.name;
    h.failCommit();
    await expect(h.deliver(updates, [record(7, { updates: [fill] })])).rejects.toThrow(/went away/);
    await h.deliver(updates, [record(7, { updates: [fill] })]);
    const after = h.committed.at(-1)!;
    expect(after.kind).toBe('updates');
    expect(after.batch.states).toEqual([
      expect.objectContaining({ orderId: 's1', filledQty: 1, holdRemaining: 4000n }),
    ]);
    // Matching applies the amend: nothing is in flight any more, and the row goes.
    await h.deliver(updates, [
      record(8, {
        updates: [
          {
            ...fill,
            seq: 4,
            event: {
              type: 'amended',
              seq: 4,
              orderId: 's1',
              accountId: 'a1',
              price: 100,
              qty: 5,
              remainingQty: 4,
              keptPriority: true,
            },
          },
        ],
      }),
    ]);
    expect(h.committed.at(-1)!.batch.amends).toEqual([['s1', null]]);
    expect(h.committed.at(-1)!.batch.states).toEqual([
      expect.objectContaining({ orderId: 's1', qty: 5, holdRemaining: 4000n }),
    ]);
    expect(h.amendsInFlight.size).toBe(0);
  });

  it('posts money once, acknowledges a repeat and dead-letters another body under a posted id', async () => {
    const h = harness();
    await h.run(money('deposit', 'd1', 500), money('withdraw', 'w1', 20_000));
    expect(h.batches[0].ledger).toEqual([
      {
        key: 'deposit:d1',
        accountId: 'a1',
        asset: 'USDT',
        availableDelta: 500n,
        heldDelta: 0n,
        kind: 'deposit',
        ref: `cmd:${P}:100`,
      },
    ]);
    expect(h.stream).toEqual({
      a1: [
        { type: 'deposit', commandId: 'd1', asset: 'USDT', status: 'applied', reason: null },
        {
          type: 'withdrawal',
          commandId: 'w1',
          asset: 'USDT',
          status: 'rejected',
          reason: 'INSUFFICIENT_FUNDS',
        },
      ],
    });
    // The next batch finds d1 in the ledger.
    await h.run(money('deposit', 'd1', 500), money('deposit', 'd1', 501));
    expect(h.batches[1].ledger).toEqual([]);
    expect(h.stream.a1.map((u) => [u.status, u.reason])).toEqual([
      ['applied', null],
      ['rejected', 'IDEMPOTENCY_KEY_REUSED'],
    ]);
    expect(h.deadLettered).toEqual([
      {
        topic: TOPICS.deadLetter.name,
        value: expect.objectContaining({
          sourceOffset: '103',
          reason: expect.stringMatching(
            /^IDEMPOTENCY_KEY_REUSED: commandId d1 was posted as deposit:d1 of 500 USDT/,
          ),
        }),
      },
    ]);
    expect(await h.metric('router_money_commands_total')).toEqual({
      'kind=deposit,outcome=applied': 1,
      'kind=withdraw,outcome=rejected': 1,
      'kind=deposit,outcome=duplicate': 1,
      'kind=deposit,outcome=reused_id': 1,
    });
  });

  it('sends nothing of a batch whose commit fails, and decides it again from the database', async () => {
    const h = harness();
    // 6,000 of 10,000: held twice (the failed batch's hold still in memory), the retry would be refused.
    const first = record(100, place({ qty: 6 }));
    h.failCommit();
    await expect(h.deliver(COMMANDS, [first])).rejects.toThrow(/went away/);
    expect(h.sent).toEqual([]);
    expect(h.published).toEqual([]);
    await h.deliver(COMMANDS, [first]);
    expect(h.batches[0].ledger.map((e) => e.availableDelta)).toEqual([-6000n]);
    expect(h.sent).toHaveLength(1);
  });

  it('rebuilds the partition from the database when the ledger kept another command’s entry under a money key', async () => {
    const h = harness();
    const foreign: LedgerRow = {
      key: 'deposit:d7',
      accountId: 'a9',
      asset: 'USDT',
      availableDelta: 7n,
      heldDelta: 0n,
      kind: 'deposit',
      ref: 'cmd:1:9',
    };
    let lookups = 0;
    const balances = (h.service as unknown as { balances: Record<string, unknown> }).balances;
    const forAccounts = balances.forAccounts as (ids: string[]) => Promise<BalanceRow[]>;
    const accountReads: string[][] = [];
    Object.assign(balances, {
      // Not there when the batch looks, there (another partition's) when it checks after its commit.
      findEntries: async () => (++lookups === 1 ? [] : [foreign]),
      forAccounts: (ids: string[]) => (accountReads.push(ids), forAccounts(ids)),
    });
    await h.run(money('deposit', 'd7', 5));
    await h.run(place());
    expect(accountReads).toEqual([['a1'], ['a1']]);
  });

  it('dead-letters a malformed command and commits past it', async () => {
    const h = harness();
    const messages: KafkaMessage[] = [record(100, 'not json'), record(101, place())];
    await h.deliver(COMMANDS, messages);
    expect(h.deadLettered.map((d) => d.value.sourceOffset)).toEqual(['100']);
    expect(h.batches[0].offset.nextOffset).toBe(102);
    expect(h.batches[0].outbox.rows.map((r) => r.offset)).toEqual([101]);
  });
});
