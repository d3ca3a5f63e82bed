import { isSameMoneyMovement, moneyLedgerKey } from '@trading/contracts';
import { AccountBook, type Balance } from './account-book';
import { checkMarketRules } from './market-rules';
import {
  amendsHold,
  feeAccountFor,
  holdAssetOf,
  holdEntry,
  requiredHold,
  settleEvent,
  type OrderMoney,
} from './money';
import { applyOrderEvent, isFinal } from './order-state';
import type {
  AmendCommand,
  CancelCommand,
  CommandInput,
  Decision,
  LedgerEntry,
  MatchingCommand,
  MoneyCommand,
  NewOrder,
  PendingAmend,
  PlaceCommand,
  PostedEntry,
  RiskEvent,
  RiskInput,
  RiskMarket,
  RiskOrder,
  RiskResult,
  RiskSnapshot,
  RiskUpdate,
  RouterRejectReason,
  StreamUpdate,
} from './risk.types';

// The money ledger key and the same-movement check are @trading/contracts' (the gateway uses them
// too).
export { isSameMoneyMovement, moneyLedgerKey };

/** A command's account must be loaded before the engine decides for it (a caller's bug otherwise). */
export class AccountNotLoadedError extends Error {
  constructor(readonly accountId: string) {
    super(`account ${accountId} is not loaded in the risk engine`);
    this.name = 'AccountNotLoadedError';
  }
}

/** An amend or an update of a market the engine was not given: the caller must fail and retry. */
export class MarketNotLoadedError extends Error {
  constructor(readonly symbol: string) {
    super(`market ${symbol} is not loaded in the risk engine`);
    this.name = 'MarketNotLoadedError';
  }
}

const coidKeyOf = (accountId: string, clientOrderId: string): string => `${accountId}\u0000${clientOrderId}`;

/**
 * The money of one router partition, pure: the balances of the accounts it owns, the holds of
 * their orders, the order lifecycle and settlement with fees. Like exchange-core's RiskEngine in
 * front of its matching engines, it decides before matching (hold or refuse) and settles after
 * (trades, fees, releases). No I/O, no clock: `apply` takes one command (with the time it is
 * decided at) or one execution update and returns what must happen; the caller persists it and
 * sends the routed commands. What the engine does not hold in memory the caller loads first
 * (`loadAccount`, `loadOrders`, `knowClientOrderIds`, `knowMoney`, `setMarket`): the database is
 * the record, the engine a cache of it that decides.
 */
export class RiskEngine {
  private readonly book = new AccountBook();
  /** Orders that reached matching (or were loaded), by id; final ones until `evict`. */
  private readonly orders = new Map<string, RiskOrder>();
  /** accountId NUL clientOrderId -> orderId, of every placement stored (rejected ones included). */
  private readonly clientOrderIds = new Map<string, string>();
  /** Posted money entries by operator command id. */
  private readonly money = new Map<string, PostedEntry>();
  /**
   * Amends routed and not answered yet, oldest first, by order id: what the order holds for them
   * stays held until matching applies or refuses each (kept when the order is evicted).
   */
  private readonly amends = new Map<string, PendingAmend[]>();
  private readonly markets = new Map<string, RiskMarket>();
  readonly feeAccount: string;

  constructor(readonly partition: number) {
    this.feeAccount = feeAccountFor(partition);
  }

  // --- what the caller loads -------------------------------------------------------------

  isLoaded(accountId: string): boolean {
    return this.book.isLoaded(accountId);
  }

  /** The account's balances as stored (replaces what the engine had). */
  loadAccount(accountId: string, balances: { asset: string; available: bigint; held: bigint }[] = []): void {
    this.book.load(accountId, balances);
  }

  loadOrders(states: Iterable<RiskOrder>): void {
    for (const s of states) this.orders.set(s.orderId, s);
  }

  /**
   * Amends in flight as stored (`RiskResult.amends` of earlier batches), for orders the engine
   * has none in memory for: a new engine (a restart, a failed batch, a partition taken over)
   * must keep holding what they may need until matching answers them.
   */
  loadAmends(stored: Iterable<[orderId: string, amends: PendingAmend[]]>): void {
    for (const [id, list] of stored)
      if (list.length > 0 && !this.amends.has(id)) this.amends.set(id, list.slice());
  }

  /** Stored placements by `accountId NUL clientOrderId` (the orders repository's lookup). */
  knowClientOrderIds(taken: Map<string, string>): void {
    for (const [k, id] of taken) this.clientOrderIds.set(k, id);
  }

  /** Money entries already in the ledger (keys `deposit:<id>` / `withdraw:<id>`). */
  knowMoney(entries: Iterable<PostedEntry>): void {
    for (const e of entries) this.money.set(e.key.slice(e.key.indexOf(':') + 1), e);
  }

  setMarket(market: RiskMarket): void {
    this.markets.set(market.symbol, market);
  }

  /** A market the caller's catalog no longer has: placements in it are refused as unknown. */
  dropMarket(symbol: string): void {
    this.markets.delete(symbol);
  }

  /**
   * Forgets the clientOrderIds and money command ids it was told or has posted, to bound its
   * memory: a caller that looks them up (`knowClientOrderIds`, `knowMoney`) before every batch
   * of commands, once the previous batch is stored, loses nothing by it.
   */
  forgetKnownIds(): void {
    this.clientOrderIds.clear();
    this.money.clear();
  }

  /**
   * Drops orders from memory (final ones, or to bound it); the caller loads them again when
   * needed. What an open one's amends in flight need is remembered apart and stays.
   */
  evict(orderIds: Iterable<string>): void {
    for (const id of orderIds) this.orders.delete(id);
  }

  // --- what the caller reads -------------------------------------------------------------

  balance(accountId: string, asset: string): Balance {
    return this.book.balance(accountId, asset);
  }

  balances(): [string, string, Balance][] {
    return this.book.entries();
  }

  order(orderId: string): RiskOrder | undefined {
    return this.orders.get(orderId);
  }

  openOrders(): RiskOrder[] {
    return [...this.orders.values()].filter((o) => !isFinal(o.status));
  }

  // --- decisions -------------------------------------------------------------------------

  apply(input: RiskInput): RiskResult {
    return 'command' in input ? this.applyCommand(input) : this.applyUpdate(input.update);
  }

  private applyCommand(input: CommandInput): RiskResult {
    const cmd = input.command;
    if (!this.book.isLoaded(cmd.accountId)) throw new AccountNotLoadedError(cmd.accountId);
    switch (cmd.kind) {
      case 'deposit':
      case 'withdraw':
        return this.onMoney(cmd, input);
      case 'place':
        return this.onPlace(cmd, input);
      default:
        return this.onCancelOrAmend(cmd, input);
    }
  }

  private onMoney(cmd: MoneyCommand, input: CommandInput): RiskResult {
    const type = cmd.kind === 'deposit' ? 'deposit' : 'withdrawal';
    const r = result({ input: cmd.kind, outcome: 'applied' });
    const earlier = this.money.get(cmd.commandId);
    if (earlier) {
      // The same movement again is acknowledged as applied; another body under its id is refused.
      const same = isSameMoneyMovement(earlier, cmd);
      r.decision = same
        ? { input: cmd.kind, outcome: 'duplicate' }
        : {
            input: cmd.kind,
            outcome: 'reused_id',
            deadLetter: `IDEMPOTENCY_KEY_REUSED: commandId ${cmd.commandId} was posted as ${earlier.key} of ${earlier.availableDelta} ${earlier.asset} for ${earlier.accountId}`,
          };
      r.stream.push({
        accountId: cmd.accountId,
        update: {
          type,
          commandId: cmd.commandId,
          asset: cmd.asset,
          status: same ? 'applied' : 'rejected',
          reason: same ? null : 'IDEMPOTENCY_KEY_REUSED',
        },
      });
      return r;
    }
    const amount = BigInt(cmd.amount);
    if (cmd.kind === 'withdraw' && this.book.balance(cmd.accountId, cmd.asset).available < amount) {
      r.decision = { input: cmd.kind, outcome: 'rejected' };
      r.stream.push({
        accountId: cmd.accountId,
        update: {
          type: 'withdrawal',
          commandId: cmd.commandId,
          asset: cmd.asset,
          status: 'rejected',
          reason: 'INSUFFICIENT_FUNDS',
        },
      });
      return r;
    }
    const entry: LedgerEntry = {
      key: moneyLedgerKey(cmd.kind, cmd.commandId),
      accountId: cmd.accountId,
      asset: cmd.asset,
      availableDelta: (cmd.kind === 'deposit' ? 1n : -1n) * amount,
      heldDelta: 0n,
      kind: type,
      ref: this.refOf(input),
    };
    this.post(r, [entry]);
    this.money.set(cmd.commandId, entry);
    r.stream.push({
      accountId: cmd.accountId,
      update: { type, commandId: cmd.commandId, asset: cmd.asset, status: 'applied', reason: null },
    });
    return r;
  }

  private onPlace(cmd: PlaceCommand, input: CommandInput): RiskResult {
    const r = result({ input: 'place', outcome: 'routed' });
    const coidKey = cmd.clientOrderId ? coidKeyOf(cmd.accountId, cmd.clientOrderId) : null;
    // A retry of an order that exists (same clientOrderId, same order id): already handled.
    if (coidKey && this.clientOrderIds.get(coidKey) === cmd.orderId) {
      r.decision = { input: 'place', outcome: 'retried' };
      // The gateway wrote its record again; the stored order answers for it.
      r.forget.push(cmd.orderId);
      return r;
    }
    const market = this.markets.get(cmd.symbol);
    let reason: RouterRejectReason | null = checkMarketRules(cmd, market);
    if (!reason && coidKey && this.clientOrderIds.has(coidKey)) reason = 'DUPLICATE_CLIENT_ORDER_ID';
    let hold = 0n;
    let holdAsset: string | null = null;
    if (!reason && market) {
      holdAsset = holdAssetOf(cmd.side, market);
      const need = requiredHold(
        {
          side: cmd.side,
          orderType: cmd.orderType,
          price: cmd.price ?? null,
          protectionPrice: cmd.protectionPrice ?? null,
          quoteBudget: cmd.quoteBudget ?? null,
          makerFeeBps: market.makerFeeBps,
          takerFeeBps: market.takerFeeBps,
        },
        cmd.qty,
        market,
      );
      if (need === null) reason = 'MARKET_BUY_UNBOUNDED';
      else if (this.book.balance(cmd.accountId, holdAsset).available < need) reason = 'INSUFFICIENT_FUNDS';
      else hold = need;
    }
    if (reason) {
      r.decision = { input: 'place', outcome: 'rejected', reason };
      r.stream.push({ accountId: cmd.accountId, update: placeUpdate(cmd, 'rejected', reason) });
      // The first order with this clientOrderId stands; this one never existed.
      if (reason === 'DUPLICATE_CLIENT_ORDER_ID') return r;
    }
    if (coidKey) this.clientOrderIds.set(coidKey, cmd.orderId);
    const row = toRow(cmd, reason, holdAsset, hold, market);
    r.newOrders.push(row);
    if (reason) return r;
    this.orders.set(row.orderId, stateOfNew(row));
    // The own-orders stream shows the order from here (the snapshot counts pending orders as open).
    r.stream.push({ accountId: cmd.accountId, update: placeUpdate(cmd, row.status, null) });
    if (hold > 0n) this.post(r, [holdEntry(cmd.accountId, holdAsset!, hold, cmd.orderId, this.refOf(input))]);
    r.routed.push(this.route(input, cmd.symbol, placeToEngine(cmd)));
    return r;
  }

  private onCancelOrAmend(cmd: CancelCommand | AmendCommand, input: CommandInput): RiskResult {
    const r = result({ input: cmd.kind, outcome: 'routed' });
    const order = this.orders.get(cmd.orderId);
    // Only the owner may touch an order (the gateway checked too).
    if (!order || order.accountId !== cmd.accountId || order.symbol !== cmd.symbol) {
      r.decision = { input: cmd.kind, outcome: 'rejected', reason: 'UNKNOWN_ORDER' };
      return r;
    }
    if (cmd.kind === 'cancel') {
      r.routed.push(this.route(input, cmd.symbol, { type: 'cancel', orderId: cmd.orderId }));
      return r;
    }
    // Amend: hold more first if the new price or size can cost more (whatever the amends still in
    // flight before it turn out to be); the excess is released once matching answers. An order
    // already final gets no more hold: matching will refuse the amend and no later event of it
    // would release anything.
    const market = this.requireMarket(order.symbol);
    if (order.holdAsset && !isFinal(order.status)) {
      const amends = [...(this.amends.get(order.orderId) ?? []), { price: cmd.price, qty: cmd.qty }];
      const extra = amendsHold(order, amends, market) - order.holdRemaining;
      if (extra > 0n) {
        if (this.book.balance(order.accountId, order.holdAsset).available < extra) {
          r.decision = { input: 'amend', outcome: 'rejected', reason: 'INSUFFICIENT_FUNDS' };
          r.stream.push({
            accountId: cmd.accountId,
            update: {
              type: 'order',
              orderId: order.orderId,
              symbol: order.symbol,
              status: order.status,
              reason: 'AMEND_INSUFFICIENT_FUNDS',
              event: 'amend_rejected',
            },
          });
          return r;
        }
        this.post(r, [holdEntry(order.accountId, order.holdAsset, extra, order.orderId, this.refOf(input))]);
        order.holdRemaining += extra;
        r.changedOrders.push(order);
      }
      this.amends.set(order.orderId, amends);
      r.amends.push([order.orderId, amends.slice()]);
    }
    r.routed.push(
      this.route(input, cmd.symbol, { type: 'amend', orderId: cmd.orderId, price: cmd.price, qty: cmd.qty }),
    );
    return r;
  }

  private applyUpdate(u: RiskUpdate): RiskResult {
    const r = result({ input: 'update', outcome: 'applied' });
    r.events.push({
      symbol: u.symbol,
      seq: u.seq,
      orderId: u.orderId,
      accountId: u.accountId,
      type: u.event.type,
      payload: u.event,
      emittedAt: u.emittedAt,
    });
    const order = this.orders.get(u.orderId);
    if (!order) {
      r.decision = { input: 'update', outcome: 'unknown_order' };
      return r;
    }
    if (u.event.seq <= order.lastSeq) {
      r.decision = { input: 'update', outcome: 'stale' };
      return r;
    }
    // Never settle without the market: the caller fails and retries.
    const market = this.requireMarket(u.symbol);
    const money: OrderMoney = {
      orderId: order.orderId,
      accountId: order.accountId,
      side: order.side,
      orderType: order.orderType,
      price: order.price,
      protectionPrice: order.protectionPrice,
      quoteBudget: order.quoteBudget,
      remaining: order.qty - order.filledQty,
      holdAsset: order.holdAsset ?? '',
      holdRemaining: order.holdRemaining,
      makerFeeBps: order.makerFeeBps,
      takerFeeBps: order.takerFeeBps,
    };
    applyOrderEvent(order, u.orderId, u.event);
    const floor = this.answerAmends(r, order, u.event, market);
    if (order.holdAsset) {
      const entries = settleEvent(money, u.event, u.symbol, market, this.feeAccount, floor);
      this.post(r, entries);
      order.holdRemaining = money.holdRemaining;
    }
    r.changedOrders.push(order);
    return r;
  }

  /**
   * Matching answers an order's amends in the order they were routed (Amended, or a refusal of the
   * amend); a final order has none left. Returns what the amends still in flight need held.
   */
  private answerAmends(r: RiskResult, order: RiskOrder, event: RiskEvent, market: RiskMarket): bigint {
    const amends = this.amends.get(order.orderId);
    if (!amends) return 0n;
    const answered = event.type === 'amended' || (event.type === 'rejected' && event.command === 'amend');
    if (answered) amends.shift();
    if (amends.length === 0 || isFinal(order.status)) {
      this.amends.delete(order.orderId);
      r.amends.push([order.orderId, []]);
      return 0n;
    }
    if (answered) r.amends.push([order.orderId, amends.slice()]);
    return amendsHold(order, amends, market);
  }

  // --- snapshot --------------------------------------------------------------------------

  snapshot(): RiskSnapshot {
    const accounts = new Map<string, [string, string, string][]>();
    for (const [a, asset, b] of this.book.entries()) {
      const list = accounts.get(a) ?? [];
      list.push([asset, b.available.toString(), b.held.toString()]);
      accounts.set(a, list);
    }
    for (const a of this.book.accountIds()) if (!accounts.has(a)) accounts.set(a, []);
    return {
      v: 1,
      partition: this.partition,
      accounts: [...accounts].sort(([a], [b]) => cmp(a, b)),
      orders: [...this.orders.values()]
        .map((o) => ({
          ...o,
          filledNotional: o.filledNotional.toString(),
          holdRemaining: o.holdRemaining.toString(),
        }))
        .sort((a, b) => cmp(a.orderId, b.orderId)),
      clientOrderIds: [...this.clientOrderIds].sort(([a], [b]) => cmp(a, b)),
      money: [...this.money]
        .map(([id, e]): [string, string, string, string, string, string] => [
          id,
          e.key,
          e.accountId,
          e.asset,
          e.availableDelta.toString(),
          e.ref,
        ])
        .sort(([a], [b]) => cmp(a, b)),
      amends: [...this.amends]
        .map(([id, list]): [string, [number | null, number | null][]] => [
          id,
          list.map((a) => [a.price ?? null, a.qty ?? null]),
        ])
        .sort(([a], [b]) => cmp(a, b)),
      markets: [...this.markets.values()]
        .map((m) => ({
          symbol: m.symbol,
          baseAsset: m.baseAsset,
          quoteAsset: m.quoteAsset,
          minQtyLots: m.minQtyLots,
          makerFeeBps: m.makerFeeBps,
          takerFeeBps: m.takerFeeBps,
          status: m.status,
          quoteUnitsPerTickLot: m.quoteUnitsPerTickLot.toString(),
          baseUnitsPerLot: m.baseUnitsPerLot.toString(),
          minNotionalTickLots: m.minNotionalTickLots,
        }))
        .sort((a, b) => cmp(a.symbol, b.symbol)),
    };
  }

  static restore(s: RiskSnapshot): RiskEngine {
    if (s.v !== 1) throw new Error(`unsupported risk snapshot version ${String(s.v)}`);
    const e = new RiskEngine(s.partition);
    for (const [a, assets] of s.accounts)
      e.loadAccount(
        a,
        assets.map(([asset, available, held]) => ({
          asset,
          available: BigInt(available),
          held: BigInt(held),
        })),
      );
    e.loadOrders(
      s.orders.map((o) => ({
        ...o,
        filledNotional: BigInt(o.filledNotional),
        holdRemaining: BigInt(o.holdRemaining),
      })),
    );
    e.knowClientOrderIds(new Map(s.clientOrderIds));
    for (const [id, key, accountId, asset, delta, ref] of s.money)
      e.money.set(id, {
        key,
        accountId,
        asset,
        availableDelta: BigInt(delta),
        heldDelta: 0n,
        kind: key.startsWith('deposit:') ? 'deposit' : 'withdrawal',
        ref,
      });
    for (const [id, list] of s.amends)
      e.amends.set(
        id,
        list.map(([price, qty]) => ({ price: price ?? undefined, qty: qty ?? undefined })),
      );
    for (const m of s.markets)
      e.setMarket({
        ...m,
        quoteUnitsPerTickLot: BigInt(m.quoteUnitsPerTickLot),
        baseUnitsPerLot: BigInt(m.baseUnitsPerLot),
      });
    return e;
  }

  // --- helpers ---------------------------------------------------------------------------

  private refOf(input: CommandInput): string {
    return `cmd:${this.partition}:${input.offset}`;
  }

  private post(r: RiskResult, entries: LedgerEntry[]): void {
    this.book.apply(entries);
    r.ledger.push(...entries);
  }

  private route(input: CommandInput, symbol: string, command: MatchingCommand) {
    return {
      symbol,
      accountId: input.command.accountId,
      receivedAt: input.command.receivedAt,
      routedAt: input.at,
      command,
      source: { partition: this.partition, offset: input.offset },
    };
  }

  private requireMarket(symbol: string): RiskMarket {
    const m = this.markets.get(symbol);
    if (!m) throw new MarketNotLoadedError(symbol);
    return m;
  }
}

/** The private-channel updates of the orders a batch of updates changed (each once, as it now stands). */
export function orderStreamOf(changed: Iterable<RiskOrder>): { accountId: string; update: StreamUpdate }[] {
  const out: { accountId: string; update: StreamUpdate }[] = [];
  for (const o of new Set(changed))
    out.push({
      accountId: o.accountId,
      update: {
        type: 'order',
        orderId: o.orderId,
        symbol: o.symbol,
        status: o.status,
        reason: o.reason,
        filledQty: o.filledQty,
        qty: o.qty,
        lastSeq: o.lastSeq,
      },
    });
  return out;
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function result(decision: Decision): RiskResult {
  return {
    decision,
    ledger: [],
    routed: [],
    newOrders: [],
    changedOrders: [],
    events: [],
    stream: [],
    forget: [],
    amends: [],
  };
}

function placeUpdate(cmd: PlaceCommand, status: string, reason: string | null): StreamUpdate {
  return {
    type: 'order',
    orderId: cmd.orderId,
    symbol: cmd.symbol,
    status,
    reason,
    filledQty: 0,
    qty: cmd.qty,
    lastSeq: 0,
  };
}

function toRow(
  cmd: PlaceCommand,
  reason: RouterRejectReason | null,
  holdAsset: string | null,
  hold: bigint,
  market: RiskMarket | undefined,
): NewOrder {
  return {
    orderId: cmd.orderId,
    accountId: cmd.accountId,
    symbol: cmd.symbol,
    clientOrderId: cmd.clientOrderId ?? null,
    side: cmd.side,
    orderType: cmd.orderType,
    tif: cmd.tif,
    postOnly: cmd.postOnly,
    price: cmd.price ?? null,
    stopPrice: cmd.stopPrice ?? null,
    displayQty: cmd.displayQty ?? null,
    qty: cmd.qty,
    status: reason ? 'rejected' : 'pending',
    reason,
    receivedAt: cmd.receivedAt,
    protectionPrice: cmd.protectionPrice ?? null,
    quoteBudget: cmd.quoteBudget ?? null,
    holdAsset,
    holdRemaining: hold,
    makerFeeBps: market?.makerFeeBps ?? 0,
    takerFeeBps: market?.takerFeeBps ?? 0,
  };
}

function placeToEngine(cmd: PlaceCommand): MatchingCommand {
  return {
    type: 'new',
    orderId: cmd.orderId,
    accountId: cmd.accountId,
    side: cmd.side,
    orderType: cmd.orderType,
    qty: cmd.qty,
    price: cmd.price,
    tif: cmd.tif,
    postOnly: cmd.postOnly || undefined,
    displayQty: cmd.displayQty,
    stopPrice: cmd.stopPrice,
    protectionPrice: cmd.protectionPrice,
    quoteBudget: cmd.quoteBudget,
    stp: cmd.stp,
  };
}

/** The state of an order just placed, as the database would return it. */
export function stateOfNew(row: NewOrder): RiskOrder {
  return {
    orderId: row.orderId,
    accountId: row.accountId,
    symbol: row.symbol,
    side: row.side,
    orderType: row.orderType,
    price: row.price,
    protectionPrice: row.protectionPrice,
    quoteBudget: row.quoteBudget,
    qty: row.qty,
    filledQty: 0,
    filledNotional: 0n,
    status: row.status,
    reason: row.reason,
    lastSeq: 0,
    holdAsset: row.holdAsset,
    holdRemaining: row.holdRemaining,
    makerFeeBps: row.makerFeeBps,
    takerFeeBps: row.takerFeeBps,
  };
}
