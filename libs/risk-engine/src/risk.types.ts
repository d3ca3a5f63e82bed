// Public types of the risk engine. Plain data. The vocabulary (sides, order types, statuses,
// reject codes) and the order and ledger records are @trading/contracts' own; the other shapes
// below are structural matches of their @trading/contracts counterparts, so the router passes
// those in unchanged.
import type {
  EngineEventMessage,
  LedgerEntry,
  NewOrder,
  OrderEventRecord,
  OrderState,
  OrderType,
  RouterRejectCode,
  Side,
  StpMode,
  TimeInForce,
} from '@trading/contracts';

export type { OrderStatus, OrderType, Side } from '@trading/contracts';

/** What the engine needs of a market (a structural subset of @trading/contracts' MarketSpec). */
export interface RiskMarket {
  symbol: string;
  baseAsset: string;
  quoteAsset: string;
  minQtyLots: number;
  makerFeeBps: number;
  takerFeeBps: number;
  status: 'trading' | 'halted';
  /** Smallest quote units per (1 tick x 1 lot). */
  quoteUnitsPerTickLot: bigint;
  /** Smallest base units per lot. */
  baseUnitsPerLot: bigint;
  /** Minimum notional in ticks x lots (0 = none). */
  minNotionalTickLots: number;
}

interface CommandBase {
  commandId: string;
  accountId: string;
  /** Gateway receipt time (epoch ms), carried to matching. */
  receivedAt: number;
}

/** orders.commands.v1 after validation (@trading/contracts' OrderCommand). */
export interface PlaceCommand extends CommandBase {
  kind: 'place';
  orderId: string;
  symbol: string;
  side: Side;
  orderType: OrderType;
  qty: number;
  price?: number;
  tif: TimeInForce;
  postOnly: boolean;
  displayQty?: number;
  stopPrice?: number;
  protectionPrice?: number;
  quoteBudget?: number;
  stp: StpMode;
  clientOrderId?: string;
}
export interface CancelCommand extends CommandBase {
  kind: 'cancel';
  orderId: string;
  symbol: string;
}
export interface AmendCommand extends CommandBase {
  kind: 'amend';
  orderId: string;
  symbol: string;
  price?: number;
  qty?: number;
}
export interface MoneyCommand extends CommandBase {
  kind: 'deposit' | 'withdraw';
  asset: string;
  amount: number;
}
export type RiskCommand = PlaceCommand | CancelCommand | AmendCommand | MoneyCommand;

/** The matching engine's events as they travel: @trading/contracts' EngineEventMessage, one definition. */
export type RiskEvent = EngineEventMessage;
export type TradeEvent = Extract<RiskEvent, { type: 'trade' }>;

/** One order side of one engine event (@trading/contracts' OrderUpdate). */
export interface RiskUpdate {
  accountId: string;
  orderId: string;
  symbol: string;
  seq: number;
  receivedAt: number;
  emittedAt: number;
  event: RiskEvent;
}

/** One immutable ledger movement; `key` is its natural idempotency key (@trading/contracts). */
export type { LedgerEntry, PostedEntry } from '@trading/contracts';

/** An order as the router keeps it (@trading/contracts' OrderState, @trading/db's OrderStateRow). */
export type RiskOrder = OrderState;

/** An amend routed to matching and not answered yet: the price and total quantity it asks for. */
export interface PendingAmend {
  price?: number;
  qty?: number;
}

/** The row a placement inserts (@trading/contracts, @trading/db's NewOrderRow). */
export type { NewOrder } from '@trading/contracts';

/** The order_events row of one update (@trading/db's OrderEventRow). */
export type OrderEvent = OrderEventRecord<RiskEvent>;

/** The matching engine's command for a routed command (@trading/contracts' SequencedCommand.command). */
export type MatchingCommand =
  | {
      type: 'new';
      orderId: string;
      accountId: string;
      side: Side;
      orderType: OrderType;
      qty: number;
      price?: number;
      tif?: TimeInForce;
      postOnly?: boolean;
      displayQty?: number;
      stopPrice?: number;
      protectionPrice?: number;
      quoteBudget?: number;
      stp?: StpMode;
    }
  | { type: 'cancel'; orderId: string }
  | { type: 'amend'; orderId: string; price?: number; qty?: number };

/** A command for matching (@trading/contracts' SequencedCommand), keyed by its symbol. */
export interface RoutedCommand {
  symbol: string;
  accountId: string;
  receivedAt: number;
  routedAt: number;
  command: MatchingCommand;
  /** Where the router read it: matching skips a (partition, offset) it has applied. */
  source: { partition: number; offset: number };
}

/** What the caller's private channel carries (the router's OrderStreamUpdate). */
export type StreamUpdate =
  | {
      type: 'order';
      orderId: string;
      symbol: string;
      status: string;
      reason: string | null;
      filledQty?: number;
      qty?: number;
      lastSeq?: number;
      event?: string;
    }
  | {
      type: 'deposit' | 'withdrawal';
      commandId: string;
      asset: string;
      status: 'applied' | 'rejected';
      reason: string | null;
    };

/** Why the router refuses a command before it reaches matching (@trading/contracts' codes). */
export type RouterRejectReason = RouterRejectCode;

/**
 * How one input was decided, for the caller's metrics and logs:
 * - money: `applied`, `duplicate` (the same movement again), `reused_id` (another body under a
 *   posted command id: `deadLetter` says why), `rejected` (INSUFFICIENT_FUNDS);
 * - place: `routed`, `retried` (a retry of an existing order), `rejected` (with `reason`);
 * - cancel, amend: `routed` or `rejected` (UNKNOWN_ORDER, INSUFFICIENT_FUNDS of an amend);
 * - update: `applied`, `stale` (seq already applied), `unknown_order`.
 */
export type Decision =
  | { input: 'deposit' | 'withdraw'; outcome: 'applied' | 'duplicate' | 'rejected' }
  | { input: 'deposit' | 'withdraw'; outcome: 'reused_id'; deadLetter: string }
  | { input: 'place'; outcome: 'routed' | 'retried' }
  | { input: 'place'; outcome: 'rejected'; reason: RouterRejectReason }
  | { input: 'cancel' | 'amend'; outcome: 'routed' }
  | { input: 'cancel' | 'amend'; outcome: 'rejected'; reason: 'UNKNOWN_ORDER' | 'INSUFFICIENT_FUNDS' }
  | { input: 'update'; outcome: 'applied' | 'stale' | 'unknown_order' };

/** Everything one input requires of the world, in the order it must be made durable. */
export interface RiskResult {
  decision: Decision;
  /** Ledger entries, already applied to the engine's balances. */
  ledger: LedgerEntry[];
  /** Commands for matching; they go out only after the rest is committed. */
  routed: RoutedCommand[];
  /** New order rows to store (placements, rejected ones included). */
  newOrders: NewOrder[];
  /** Orders whose stored state changed (the engine's own objects, as they now stand). */
  changedOrders: RiskOrder[];
  /** order_events rows (updates). */
  events: OrderEvent[];
  /** Updates for the accounts' private channels (commands only: an update's is `orderStreamOf`). */
  stream: { accountId: string; update: StreamUpdate }[];
  /** Orders whose accepted-order record the gateway wrote again and must be dropped. */
  forget: string[];
  /**
   * Orders whose amends in flight changed, with the list as it now stands (empty: none left).
   * The caller stores them with the batch and gives them back through `loadAmends` to a new
   * engine: what an amend up holds stays held until matching answers it, across restarts.
   */
  amends: [orderId: string, amends: PendingAmend[]][];
}

/** A command read at `offset` of the partition, decided at `at` (epoch ms, the caller's clock). */
export interface CommandInput {
  offset: number;
  at: number;
  command: RiskCommand;
}
export interface UpdateInput {
  update: RiskUpdate;
}
export type RiskInput = CommandInput | UpdateInput;

/** JSON-serialisable full state of one partition's engine (bigints as decimal strings). */
export interface RiskSnapshot {
  v: 1;
  partition: number;
  /** [accountId, [asset, available, held][]] */
  accounts: [string, [string, string, string][]][];
  orders: (Omit<RiskOrder, 'filledNotional' | 'holdRemaining'> & {
    filledNotional: string;
    holdRemaining: string;
  })[];
  /** [accountId NUL clientOrderId, orderId] */
  clientOrderIds: [string, string][];
  /** [commandId, key, accountId, asset, availableDelta, ref] */
  money: [string, string, string, string, string, string][];
  /** [orderId, [price, qty][]]: amends in flight, oldest first (null: the field is not set). */
  amends: [string, [number | null, number | null][]][];
  markets: (Omit<RiskMarket, 'quoteUnitsPerTickLot' | 'baseUnitsPerLot'> & {
    quoteUnitsPerTickLot: string;
    baseUnitsPerLot: string;
  })[];
}
