import { randomInt } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  depthSnapshotSchema,
  formatDecimal,
  fromSteps,
  idSchema,
  type MarketSpec,
  redisKeys,
  toSteps,
} from '@trading/contracts';
import { OrderQueriesRepository, type OrderRow } from '@trading/db';
import { DatabaseService, RedisService } from '@trading/nest-common';
import { z } from 'zod';
import { type ApiGatewayConfig, GATEWAY_CONFIG } from '../api-gateway.config';
import type { AuthenticatedAccount } from '../auth/api-key-auth.service';
import { dbCall, redisCall } from '../common/dependency-call';
import { HistoryReads } from '../common/history-reads';
import { BalancesService } from '../money/balances.service';
import { FINAL_STATUSES } from '../orders/order-request.schema';
import { tickLotSize } from '../orders/order-rules';
import { clientOrderIdToOrderId, type DerivedFields, OrdersService } from '../orders/orders.service';
import {
  BinanceCode,
  BinanceError,
  illegal,
  mandatory,
  notOffered,
  notRequired,
  toBinanceError,
} from './binance.errors';
import { BinanceMarketService } from './binance-market.service';
import type { BinanceParams } from './binance-params';
import {
  binanceMyTrade,
  binanceOrder,
  binanceOrderFill,
  binanceStatus,
  binanceSymbol,
  type BinanceStpMode,
  STP_MODES,
} from './binance.views';
import { OrderOutcomesService } from './order-outcomes.service';

type OrderType = 'LIMIT' | 'LIMIT_MAKER' | 'MARKET' | 'STOP_LOSS_LIMIT';
type RespType = 'ACK' | 'RESULT' | 'FULL';

/** Binance order types this venue does not offer, and why. */
const TYPES_NOT_OFFERED: Readonly<Record<string, string>> = {
  TAKE_PROFIT_LIMIT:
    "TAKE_PROFIT_LIMIT (this venue's stop-limit triggers a buy when the price rises to stopPrice and a sell when it falls to it: STOP_LOSS_LIMIT)",
  TAKE_PROFIT: 'TAKE_PROFIT (stop orders are STOP_LOSS_LIMIT here)',
  STOP_LOSS: 'STOP_LOSS (stop orders are STOP_LOSS_LIMIT here)',
};
/** Binance order parameters this venue does not offer. */
const PARAMS_NOT_OFFERED = [
  'trailingDelta',
  'strategyId',
  'strategyType',
  'pegPriceType',
  'pegOffsetValue',
  'pegOffsetType',
];
const ORDER_TYPES: readonly string[] = ['LIMIT', 'LIMIT_MAKER', 'MARKET', 'STOP_LOSS_LIMIT'];

/** Why the pipeline refused an order, in the words Binance clients map to their exceptions. */
const REJECTIONS: Readonly<Record<string, string>> = {
  INSUFFICIENT_FUNDS: 'Account has insufficient balance for requested action.',
  POST_ONLY_WOULD_TAKE: 'Order would immediately match and take.',
  STOP_WOULD_TRIGGER: 'Order would trigger immediately.',
  DUPLICATE_CLIENT_ORDER_ID: 'Duplicate order sent.',
  DUPLICATE_ORDER_ID: 'Duplicate order sent.',
  MARKET_HALTED: 'Market is closed.',
};

const envelope = z.object({ seq: z.number(), data: depthSnapshotSchema });

/**
 * The signed endpoints of the Binance dialect: orders, open orders, history, own trades and the
 * account, over the same OrdersService (validation, idempotency, Kafka), the same database and
 * the same market rules as /v1.
 */
@Injectable()
export class BinanceTradingService {
  constructor(
    private readonly orders: OrdersService,
    private readonly outcomes: OrderOutcomesService,
    private readonly markets: BinanceMarketService,
    private readonly balances: BalancesService,
    private readonly queries: OrderQueriesRepository,
    private readonly history: HistoryReads,
    private readonly db: DatabaseService,
    private readonly redis: RedisService,
    @Inject(GATEWAY_CONFIG) private readonly config: ApiGatewayConfig,
  ) {}

  /** POST /api/v3/order. */
  async newOrder(account: AuthenticatedAccount, params: BinanceParams, receivedAt = Date.now()) {
    const market = this.markets.market(params.required('symbol'));
    const side = params.oneOf('side', ['BUY', 'SELL'] as const, invalidSide, true)!;
    const rawType = params.required('type');
    if (TYPES_NOT_OFFERED[rawType]) throw notOffered(TYPES_NOT_OFFERED[rawType]);
    if (!ORDER_TYPES.includes(rawType))
      throw new BinanceError(
        BinanceCode.INVALID_ORDER_TYPE,
        `Invalid orderType. (type ${rawType.slice(0, 32)})`,
      );
    const type = rawType as OrderType;
    const tif = params.oneOf('timeInForce', ['GTC', 'IOC', 'FOK'] as const, invalidTif, false);
    const quantity = params.decimal('quantity');
    const quoteOrderQty = params.decimal('quoteOrderQty');
    const price = params.decimal('price');
    const stopPrice = params.decimal('stopPrice');
    const icebergQty = params.decimal('icebergQty');
    const sentClientOrderId = params.optional('newClientOrderId');
    if (sentClientOrderId !== undefined && !idSchema.safeParse(sentClientOrderId).success)
      throw illegal('newClientOrderId', '^[A-Za-z0-9_.:-]{1,64}$');
    // Binance: "A unique id among open orders. Automatically generated if not sent." Like its
    // generated ids, 22 random alphanumerics; the order can then be queried by origClientOrderId.
    const clientOrderId = sentClientOrderId ?? generatedClientOrderId();
    const respType =
      params.oneOf(
        'newOrderRespType',
        ['ACK', 'RESULT', 'FULL'] as const,
        () => illegal('newOrderRespType', 'ACK, RESULT, FULL'),
        false,
      ) ?? (type === 'LIMIT' || type === 'MARKET' ? 'FULL' : 'ACK');
    const stp = params.optional('selfTradePreventionMode');
    if (stp !== undefined && !Object.prototype.hasOwnProperty.call(STP_MODES, stp)) {
      if (stp === 'DECREMENT' || stp === 'TRANSFER') throw notOffered(`selfTradePreventionMode ${stp}`);
      throw new BinanceError(
        BinanceCode.INVALID_PARAMETER,
        `Invalid data sent for a parameter: 'selfTradePreventionMode' is one of ${Object.keys(STP_MODES).join(', ')}.`,
      );
    }
    for (const name of PARAMS_NOT_OFFERED) if (params.optional(name) !== undefined) throw notOffered(name);
    params.finish();

    const priced = type !== 'MARKET';
    if (type === 'LIMIT' || type === 'STOP_LOSS_LIMIT') {
      if (tif === undefined) throw mandatory('timeInForce');
    } else if (tif !== undefined) throw notRequired('timeInForce');
    if (priced && price === undefined) throw mandatory('price');
    if (!priced && price !== undefined) throw notRequired('price');
    if (type === 'STOP_LOSS_LIMIT' && stopPrice === undefined) throw mandatory('stopPrice');
    if (type !== 'STOP_LOSS_LIMIT' && stopPrice !== undefined) throw notRequired('stopPrice');
    if (!priced && icebergQty !== undefined) throw notRequired('icebergQty');
    if (priced && quoteOrderQty !== undefined) throw notRequired('quoteOrderQty');
    if (priced && quantity === undefined) throw mandatory('quantity');
    if (!priced && quantity === undefined && quoteOrderQty === undefined)
      throw new BinanceError(
        BinanceCode.MANDATORY_PARAM_EMPTY_OR_MALFORMED,
        "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!",
      );
    if (quantity !== undefined && quoteOrderQty !== undefined)
      throw notRequired('quoteOrderQty', 'Send quantity or quoteOrderQty, not both.');
    if (side === 'SELL' && quoteOrderQty !== undefined) throw notOffered('quoteOrderQty on a MARKET SELL');

    const body: Record<string, unknown> = {
      symbol: market.symbol,
      side: side === 'BUY' ? 'buy' : 'sell',
      type: type === 'MARKET' ? 'market' : type === 'STOP_LOSS_LIMIT' ? 'stop-limit' : 'limit',
      ...(price !== undefined ? { price } : {}),
      ...(tif !== undefined ? { timeInForce: tif } : {}),
      ...(type === 'LIMIT_MAKER' ? { postOnly: true } : {}),
      ...(stopPrice !== undefined ? { stopPrice } : {}),
      ...(icebergQty !== undefined ? { displayQuantity: icebergQty } : {}),
      clientOrderId,
      ...(stp !== undefined ? { stpMode: STP_MODES[stp as BinanceStpMode] } : {}),
    };
    const derived: DerivedFields = {};
    if (quantity !== undefined) body.quantity = quantity;
    if (type === 'MARKET' && side === 'BUY') {
      // The pipeline holds what an order can cost, so a market buy needs a bound: the price the
      // book asks for `quantity` now, or a quantity the quote budget can buy at the best ask.
      const asks = await this.asks(market);
      if (quoteOrderQty !== undefined) {
        body.quoteBudget = quoteOrderQty;
        body.quantity = affordableQuantity(quoteOrderQty, asks, market);
        derived.qty = true;
      } else {
        body.protectionPrice = priceFor(quantity!, asks, market);
        derived.protectionPrice = true;
      }
    }

    let ack;
    try {
      ack = await this.orders.place(account, body, receivedAt, derived);
    } catch (err) {
      throw toBinanceError(err, 'place');
    }
    const symbol = binanceSymbol(market);
    const clientId = ack.clientOrderId ?? clientOrderId;
    if (respType === 'ACK')
      return {
        symbol,
        orderId: ack.orderId,
        orderListId: -1,
        clientOrderId: clientId,
        transactTime: receivedAt,
      };
    return this.result(account, ack.orderId, market, respType, receivedAt, {
      symbol,
      orderId: ack.orderId,
      orderListId: -1,
      clientOrderId: clientId,
      transactTime: receivedAt,
      price: price ?? '0',
      origQty: String(body.quantity),
      executedQty: '0',
      origQuoteOrderQty: quoteOrderQty ?? '0',
      cummulativeQuoteQty: '0',
      status: 'PENDING_NEW',
      timeInForce: tif ?? 'GTC',
      type,
      side,
      workingTime: -1,
      selfTradePreventionMode: stp ?? 'NONE',
      ...(respType === 'FULL' ? { fills: [] } : {}),
    });
  }

  /**
   * RESULT and FULL: the order once the matching engine decided (status past PENDING_NEW), with
   * its fills for FULL; within ORDER_RESULT_WAIT_MS, after which `pending` answers, saying
   * PENDING_NEW: the outcome is not known yet (GET /api/v3/order tells).
   */
  private async result(
    account: AuthenticatedAccount,
    orderId: string,
    market: MarketSpec,
    respType: Exclude<RespType, 'ACK'>,
    receivedAt: number,
    pending: Record<string, unknown>,
  ) {
    const deadline = receivedAt + this.config.ORDER_RESULT_WAIT_MS;
    const row = await this.outcomes.awaitOrder(
      account.accountId,
      orderId,
      (r) => r.status !== 'pending',
      deadline,
    );
    if (!row || row.status === 'pending') return pending;
    const status = binanceStatus(row);
    if (status === 'REJECTED')
      throw new BinanceError(
        BinanceCode.NEW_ORDER_REJECTED,
        REJECTIONS[row.reason ?? ''] ?? `Order rejected: ${row.reason ?? 'unknown reason'}.`,
      );
    const order = binanceOrder(row, market);
    const answer = {
      symbol: order.symbol,
      orderId: order.orderId,
      orderListId: -1,
      clientOrderId: order.clientOrderId,
      transactTime: receivedAt,
      price: order.price,
      origQty: order.origQty,
      executedQty: order.executedQty,
      origQuoteOrderQty: order.origQuoteOrderQty,
      cummulativeQuoteQty: order.cummulativeQuoteQty,
      status,
      timeInForce: order.timeInForce,
      type: order.type,
      side: order.side,
      workingTime: order.workingTime,
      selfTradePreventionMode: pending.selfTradePreventionMode,
      ...(order.stopPrice !== '0' ? { stopPrice: order.stopPrice } : {}),
      ...(order.icebergQty !== '0' ? { icebergQty: order.icebergQty } : {}),
    };
    if (respType === 'RESULT') return answer;
    const fills = await this.outcomes.fillsOf(row, market, deadline);
    return { ...answer, fills: fills.map((f) => binanceOrderFill(f, market)) };
  }

  /** The best asks of the book market-data keeps in Redis (price and quantity in ticks and lots). */
  private async asks(market: MarketSpec): Promise<{ price: number; qty: number }[]> {
    const redis = this.redis.redis;
    const raw = await redisCall(redis, () => redis.get(redisKeys.depth(market.symbol)));
    const parsed = raw === null ? null : envelope.safeParse(JSON.parse(raw));
    const levels = parsed?.success ? parsed.data.data.asks : [];
    const out: { price: number; qty: number }[] = [];
    for (const [p, q] of levels) {
      const price = toSteps(p, market.tickSize);
      const qty = toSteps(q, market.lotSize);
      if (price.ok && qty.ok) out.push({ price: price.steps, qty: qty.steps });
    }
    return out;
  }

  /** The order a request names by orderId or origClientOrderId (the same id derives from both). */
  private orderIdOf(
    account: AuthenticatedAccount,
    params: BinanceParams,
    notFound: () => BinanceError,
  ): string {
    const id = params.optional('orderId');
    const clientId = params.optional('origClientOrderId');
    if (id === undefined && clientId === undefined)
      throw new BinanceError(
        BinanceCode.MANDATORY_PARAM_EMPTY_OR_MALFORMED,
        "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
      );
    if (id !== undefined && !idSchema.safeParse(id).success) throw notFound();
    if (clientId !== undefined && !idSchema.safeParse(clientId).success) throw notFound();
    const derived = clientId === undefined ? undefined : clientOrderIdToOrderId(account.accountId, clientId);
    if (id !== undefined && derived !== undefined && id !== derived) throw notFound();
    return id ?? derived!;
  }

  /** GET /api/v3/order. */
  async queryOrder(account: AuthenticatedAccount, params: BinanceParams) {
    const market = this.markets.market(params.required('symbol'));
    const orderId = this.orderIdOf(account, params, noSuchOrder);
    params.finish();
    const row = await dbCall(this.db.dataSource, () => this.queries.findOwn(account.accountId, orderId));
    if (!row || row.symbol !== market.symbol) throw noSuchOrder();
    return binanceOrder(row, market);
  }

  /**
   * DELETE /api/v3/order: sends the cancel, then answers with the order once it is final (within
   * ORDER_RESULT_WAIT_MS; PENDING_CANCEL when not known yet). An order that filled or ended before
   * the cancel reached it is -2011, as on Binance.
   */
  async cancelOrder(account: AuthenticatedAccount, params: BinanceParams, receivedAt = Date.now()) {
    const market = this.markets.market(params.required('symbol'));
    const orderId = this.orderIdOf(account, params, unknownOrder);
    const cancelId = params.optional('newClientOrderId');
    if (params.optional('cancelRestrictions') !== undefined) throw notOffered('cancelRestrictions');
    params.finish();
    try {
      await this.orders.cancel(account, orderId, receivedAt, market.symbol);
    } catch (err) {
      throw toBinanceError(err, 'cancel');
    }
    return this.cancelled(account, orderId, market, receivedAt, cancelId);
  }

  private async cancelled(
    account: AuthenticatedAccount,
    orderId: string,
    market: MarketSpec,
    receivedAt: number,
    cancelId: string | undefined,
  ) {
    const deadline = receivedAt + this.config.ORDER_RESULT_WAIT_MS;
    const row = await this.outcomes.awaitOrder(
      account.accountId,
      orderId,
      (r) => FINAL_STATUSES.has(r.status),
      deadline,
    );
    if (row && row.status !== 'cancelled' && FINAL_STATUSES.has(row.status))
      throw new BinanceError(BinanceCode.CANCEL_REJECTED, `Unknown order sent. (the order is ${row.status})`);
    const symbol = binanceSymbol(market);
    if (!row)
      return {
        symbol,
        orderId,
        orderListId: -1,
        origClientOrderId: '',
        clientOrderId: cancelId ?? '',
        transactTime: receivedAt,
        status: 'PENDING_CANCEL',
      };
    const order = binanceOrder(row, market);
    return {
      symbol,
      origClientOrderId: order.clientOrderId,
      orderId,
      orderListId: -1,
      clientOrderId: cancelId ?? order.clientOrderId,
      transactTime: receivedAt,
      price: order.price,
      origQty: order.origQty,
      executedQty: order.executedQty,
      origQuoteOrderQty: order.origQuoteOrderQty,
      cummulativeQuoteQty: order.cummulativeQuoteQty,
      status: row.status === 'cancelled' ? order.status : 'PENDING_CANCEL',
      timeInForce: order.timeInForce,
      type: order.type,
      side: order.side,
      stopPrice: order.stopPrice,
      icebergQty: order.icebergQty,
    };
  }

  /** GET /api/v3/openOrders (one symbol, or all). */
  async openOrders(account: AuthenticatedAccount, params: BinanceParams) {
    const symbol = params.optional('symbol');
    const market = symbol === undefined ? undefined : this.markets.market(symbol);
    params.finish();
    const rows = await dbCall(this.db.dataSource, () =>
      this.queries.openOwn(account.accountId, market?.symbol, 1000),
    );
    return this.render(rows);
  }

  /** DELETE /api/v3/openOrders: cancels every open order of the symbol (-2011 when there is none). */
  async cancelOpenOrders(account: AuthenticatedAccount, params: BinanceParams, receivedAt = Date.now()) {
    const market = this.markets.market(params.required('symbol'));
    params.finish();
    const rows = await dbCall(this.db.dataSource, () =>
      this.queries.openOwn(account.accountId, market.symbol, 1000),
    );
    const sent: string[] = [];
    for (const row of rows) {
      try {
        await this.orders.cancel(account, row.orderId, receivedAt, market.symbol);
        sent.push(row.orderId);
      } catch (err) {
        // Final meanwhile: nothing to cancel. Anything else (Kafka down) is the answer.
        const b = toBinanceError(err, 'cancel');
        if (b.code !== BinanceCode.CANCEL_REJECTED) throw b;
      }
    }
    if (sent.length === 0)
      throw new BinanceError(BinanceCode.CANCEL_REJECTED, 'Unknown order sent. (no open orders)');
    const answers = await Promise.allSettled(
      sent.map((id) => this.cancelled(account, id, market, receivedAt, undefined)),
    );
    return answers.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []));
  }

  /** GET /api/v3/allOrders: one symbol's orders, oldest first. */
  async allOrders(account: AuthenticatedAccount, params: BinanceParams) {
    const market = this.markets.market(params.required('symbol'));
    const fromOrderId = params.optional('orderId');
    const start = params.time('startTime');
    const end = params.time('endTime');
    const limit = params.integer('limit', 1, 1000) ?? 500;
    params.finish();
    if (fromOrderId !== undefined && !idSchema.safeParse(fromOrderId).success) return [];
    const rows = await dbCall(this.db.dataSource, () =>
      this.history.read('orders', (r) =>
        r.orders.history(account.accountId, { symbol: market.symbol, fromOrderId, start, end, limit }),
      ),
    );
    return this.render(rows);
  }

  /** GET /api/v3/myTrades: one symbol's settled fills with their fees, oldest first. */
  async myTrades(account: AuthenticatedAccount, params: BinanceParams) {
    const market = this.markets.market(params.required('symbol'));
    const orderId = params.optional('orderId');
    const start = params.time('startTime');
    const end = params.time('endTime');
    const fromId = params.integer('fromId', 0, Number.MAX_SAFE_INTEGER);
    const limit = params.integer('limit', 1, 1000) ?? 500;
    params.finish();
    if (orderId !== undefined && !idSchema.safeParse(orderId).success) return [];
    const fills = await dbCall(this.db.dataSource, () =>
      this.history.read('fills', (r) =>
        r.trades.settledFills(account.accountId, {
          symbol: market.symbol,
          orderId,
          fromSeq: fromId,
          start,
          end,
          limit,
        }),
      ),
    );
    return fills.map((f) => binanceMyTrade(f, market));
  }

  /** GET /api/v3/account: balances as free (available) and locked (held by open orders). */
  async account(account: AuthenticatedAccount, params: BinanceParams) {
    const omit = params.oneOf(
      'omitZeroBalances',
      ['true', 'false'] as const,
      () => illegal('omitZeroBalances', 'true, false'),
      false,
    );
    params.finish();
    const { balances } = await this.balances.balances(account);
    return {
      makerCommission: 0,
      takerCommission: 0,
      buyerCommission: 0,
      sellerCommission: 0,
      canTrade: true,
      canWithdraw: false,
      canDeposit: false,
      brokered: false,
      requireSelfTradePrevention: false,
      preventSor: false,
      updateTime: Date.now(),
      accountType: 'SPOT',
      balances: balances
        .filter((b) => omit !== 'true' || b.available !== '0' || b.held !== '0')
        .map((b) => ({ asset: b.asset, free: b.available, locked: b.held })),
      permissions: ['SPOT'],
      uid: account.accountId,
    };
  }

  /** GET /api/v3/account/commission: the market's fee rates (new orders), as fractions. */
  commission(params: BinanceParams) {
    const market = this.markets.market(params.required('symbol'));
    params.finish();
    const rate = (bps: number) => formatDecimal(BigInt(bps), 4);
    const zero = { maker: '0', taker: '0', buyer: '0', seller: '0' };
    return {
      symbol: binanceSymbol(market),
      standardCommission: {
        maker: rate(market.makerFeeBps),
        taker: rate(market.takerFeeBps),
        buyer: '0',
        seller: '0',
      },
      specialCommission: zero,
      taxCommission: zero,
      discount: { enabledForAccount: false, enabledForSymbol: false, discountAsset: null, discount: '0' },
    };
  }

  private render(rows: OrderRow[]) {
    const bySymbol = new Map(this.markets.all().map((m) => [m.symbol, m]));
    return rows.flatMap((r) => {
      const m = bySymbol.get(r.symbol);
      return m ? [binanceOrder(r, m)] : [];
    });
  }
}

const invalidSide = () =>
  new BinanceError(BinanceCode.INVALID_SIDE, "Invalid side. (parameter 'side' is BUY or SELL)");
const invalidTif = () =>
  new BinanceError(
    BinanceCode.INVALID_TIF,
    "Invalid timeInForce. (parameter 'timeInForce' is GTC, IOC or FOK)",
  );
const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A clientOrderId as Binance makes one up when none is sent: 22 random alphanumerics. */
export function generatedClientOrderId(): string {
  let id = '';
  for (let i = 0; i < 22; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return id;
}

const noSuchOrder = () => new BinanceError(BinanceCode.NO_SUCH_ORDER, 'Order does not exist.');
const unknownOrder = () => new BinanceError(BinanceCode.CANCEL_REJECTED, 'Unknown order sent.');
const noLiquidity = () =>
  new BinanceError(
    BinanceCode.NEW_ORDER_REJECTED,
    'Order rejected: a MARKET BUY is bounded by the asks on the book, and there are none.',
  );

/**
 * The protection price of a market buy of `quantity`: the ask at which the book, as it stands,
 * fills it (its last ask when it cannot). The order trades at no worse price; what the book
 * lacks at that price expires, as the remainder of a market order does.
 */
export function priceFor(
  quantity: string,
  asks: { price: number; qty: number }[],
  market: MarketSpec,
): string {
  if (asks.length === 0) throw noLiquidity();
  const wanted = toSteps(quantity, market.lotSize);
  // An invalid quantity is refused with its own error by the order rules.
  const lots = wanted.ok ? wanted.steps : 0;
  let cumulative = 0;
  let price = asks[0].price;
  for (const level of asks) {
    price = level.price;
    cumulative += level.qty;
    if (cumulative >= lots) break;
  }
  return fromSteps(price, market.tickSize);
}

/**
 * The quantity a market buy of `quoteOrderQty` asks for: what the budget buys at the best ask.
 * Prices only rise from there, so the budget binds first; the engine never spends beyond it.
 */
export function affordableQuantity(
  quoteOrderQty: string,
  asks: { price: number; qty: number }[],
  market: MarketSpec,
): string {
  if (asks.length === 0) throw noLiquidity();
  const budget = toSteps(quoteOrderQty, tickLotSize(market));
  // An invalid budget is refused with its own error by the order rules; any quantity will do.
  if (!budget.ok) return fromSteps(market.minQtyLots || 1, market.lotSize);
  const lots = Math.floor(budget.steps / asks[0].price);
  if (lots < market.minQtyLots)
    throw new BinanceError(
      BinanceCode.FILTER_FAILURE,
      `Filter failure: LOT_SIZE (quoteOrderQty buys less than the minimum quantity ${fromSteps(market.minQtyLots, market.lotSize)} at the best ask)`,
    );
  return fromSteps(lots, market.lotSize);
}
