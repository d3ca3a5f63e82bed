import { type ArgumentsHost, Catch, type ExceptionFilter, Logger } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { LoggedRequest } from '@trading/nest-common';
import { toGatewayException } from '../errors/gateway-exception.filter';
import {
  DependencyUnavailableError,
  ErrorCode,
  type ErrorBody,
  GatewayException,
} from '../errors/gateway.exception';

// The Binance dialect (/api/v3) answers errors as Binance does: `{code, msg}` with Binance's
// negative codes, which clients (ccxt, Binance's own connectors) map to their exceptions, and
// Binance's HTTP statuses. Only the codes this subset can produce are listed.

/** Binance's error codes used here (https://developers.binance.com/docs/binance-spot-api-docs/errors). */
export const BinanceCode = {
  UNKNOWN: -1000,
  DISCONNECTED: -1001,
  TOO_MANY_REQUESTS: -1003,
  TIMEOUT: -1007,
  SERVER_BUSY: -1008,
  FILTER_FAILURE: -1013,
  UNSUPPORTED_OPERATION: -1020,
  INVALID_TIMESTAMP: -1021,
  INVALID_SIGNATURE: -1022,
  ILLEGAL_CHARS: -1100,
  TOO_MANY_PARAMETERS: -1101,
  MANDATORY_PARAM_EMPTY_OR_MALFORMED: -1102,
  UNKNOWN_PARAM: -1103,
  PARAM_NOT_REQUIRED: -1106,
  BAD_PRECISION: -1111,
  INVALID_TIF: -1115,
  INVALID_ORDER_TYPE: -1116,
  INVALID_SIDE: -1117,
  INVALID_INTERVAL: -1120,
  BAD_SYMBOL: -1121,
  INVALID_LISTEN_KEY: -1125,
  INVALID_PARAMETER: -1130,
  BAD_RECV_WINDOW: -1131,
  NEW_ORDER_REJECTED: -2010,
  CANCEL_REJECTED: -2011,
  NO_SUCH_ORDER: -2013,
  BAD_API_KEY_FMT: -2014,
  REJECTED_MBX_KEY: -2015,
} as const;
export type BinanceCodeValue = (typeof BinanceCode)[keyof typeof BinanceCode];

/** Binance's HTTP status of a code: 4xx for the request's fault, 429, 503, 500. */
function statusOf(code: number): number {
  switch (code) {
    case BinanceCode.BAD_API_KEY_FMT:
    case BinanceCode.REJECTED_MBX_KEY:
      return 401;
    case BinanceCode.TOO_MANY_REQUESTS:
      return 429;
    case BinanceCode.DISCONNECTED:
    case BinanceCode.TIMEOUT:
    case BinanceCode.SERVER_BUSY:
      return 503;
    case BinanceCode.UNKNOWN:
      return 500;
    default:
      return 400;
  }
}

/** An error of the Binance dialect: `{code, msg}` with its HTTP status. */
export class BinanceError extends Error {
  readonly status: number;

  constructor(
    readonly code: BinanceCodeValue,
    readonly msg: string,
    status?: number,
    /** Seconds for Retry-After (429, 503). */
    readonly retryAfterSeconds?: number,
    /** The platform's error code behind it, for the request log line. */
    readonly platformCode?: string,
  ) {
    super(msg);
    this.name = 'BinanceError';
    this.status = status ?? statusOf(code);
  }

  toBody(): { code: number; msg: string } {
    return { code: this.code, msg: this.msg };
  }
}

/** -1102: a mandatory parameter is missing, empty or malformed. */
export const mandatory = (name: string): BinanceError =>
  new BinanceError(
    BinanceCode.MANDATORY_PARAM_EMPTY_OR_MALFORMED,
    `Mandatory parameter '${name}' was not sent, was empty/null, or malformed.`,
  );

/** -1100: a parameter's value is not of its form. */
export const illegal = (name: string, legal: string): BinanceError =>
  new BinanceError(
    BinanceCode.ILLEGAL_CHARS,
    `Illegal characters found in parameter '${name}'; legal range is '${legal}'.`,
  );

/** -1106: a parameter that this kind of request does not take. */
export const notRequired = (name: string, why?: string): BinanceError =>
  new BinanceError(
    BinanceCode.PARAM_NOT_REQUIRED,
    `Parameter '${name}' sent when not required.${why ? ` ${why}` : ''}`,
  );

/** -1020: valid on Binance, not offered by this venue. */
export const notOffered = (what: string): BinanceError =>
  new BinanceError(BinanceCode.UNSUPPORTED_OPERATION, `This operation is not supported: ${what}.`);

export const invalidSymbol = (): BinanceError => new BinanceError(BinanceCode.BAD_SYMBOL, 'Invalid symbol.');

/** Where a platform error arose: the same code means another Binance error per operation. */
export type BinanceOperation = 'place' | 'cancel' | 'query' | 'other';

/** The platform's order fields as the Binance parameters a client sent. */
const FIELD_NAMES: Readonly<Record<string, string>> = {
  quantity: 'quantity',
  price: 'price',
  stopPrice: 'stopPrice',
  displayQuantity: 'icebergQty',
  quoteBudget: 'quoteOrderQty',
  clientOrderId: 'newClientOrderId',
  stpMode: 'selfTradePreventionMode',
  protectionPrice: 'quantity',
  timeInForce: 'timeInForce',
  symbol: 'symbol',
  postOnly: 'type',
  type: 'type',
  side: 'side',
};

const fieldOf = (ex: GatewayException, fallback = 'parameter'): string =>
  ex.field === undefined ? fallback : (FIELD_NAMES[ex.field] ?? ex.field);

/** A filter failure in Binance's words (ccxt reads the filter's name from the body). */
const filter = (name: string, detail: string): BinanceError =>
  new BinanceError(BinanceCode.FILTER_FAILURE, `Filter failure: ${name} (${detail})`);

/**
 * The Binance form of a platform error. Statuses follow Binance (400 for what the request did
 * wrong, 401 for keys, 429, 503), except that a route that does not exist stays 404 and a wrong
 * method 405.
 */
export function toBinanceError(err: unknown, op: BinanceOperation = 'other'): BinanceError {
  if (err instanceof BinanceError) return err;
  const ex = toGatewayException(err);
  const b = binanceOf(ex, op);
  return new BinanceError(b.code, b.msg, b.status, ex.retryAfterSeconds, ex.code);
}

function binanceOf(ex: GatewayException, op: BinanceOperation): BinanceError {
  const detail = ex.message;
  switch (ex.code) {
    case ErrorCode.VALIDATION_FAILED:
    case ErrorCode.MALFORMED_JSON:
    case ErrorCode.INVALID_CURSOR:
      return new BinanceError(
        BinanceCode.ILLEGAL_CHARS,
        `Illegal characters found in parameter '${fieldOf(ex)}': ${detail}`,
      );
    case ErrorCode.MALFORMED_REQUEST:
    case ErrorCode.URI_TOO_LONG:
    case ErrorCode.HEADERS_TOO_LARGE:
      return new BinanceError(BinanceCode.ILLEGAL_CHARS, detail, ex.status);
    case ErrorCode.PAYLOAD_TOO_LARGE:
      return new BinanceError(BinanceCode.TOO_MANY_PARAMETERS, detail, ex.status);
    case ErrorCode.UNSUPPORTED_MEDIA_TYPE:
      return new BinanceError(
        BinanceCode.ILLEGAL_CHARS,
        `${detail}; /api/v3 takes parameters in the query string or an application/x-www-form-urlencoded body`,
        ex.status,
      );
    case ErrorCode.NOT_FOUND:
    case ErrorCode.METHOD_NOT_ALLOWED:
      return new BinanceError(BinanceCode.UNSUPPORTED_OPERATION, detail, ex.status);
    case ErrorCode.UNKNOWN_SYMBOL:
      return invalidSymbol();
    case ErrorCode.MARKET_HALTED:
      // ccxt maps this exact message to MarketClosed.
      return new BinanceError(BinanceCode.FILTER_FAILURE, 'Market is closed.');
    case ErrorCode.INVALID_PRICE:
    case ErrorCode.PRICE_OFF_TICK:
    case ErrorCode.INVALID_STOP_PRICE:
    case ErrorCode.INVALID_PROTECTION_PRICE:
      return filter('PRICE_FILTER', detail);
    case ErrorCode.INVALID_QUANTITY:
    case ErrorCode.BELOW_MIN_QTY:
      return filter('LOT_SIZE', detail.replace(/^quantity/, fieldOf(ex, 'quantity')));
    case ErrorCode.INVALID_DISPLAY_QTY:
      return filter('LOT_SIZE', `icebergQty: ${detail.replace(/displayQuantity/g, 'icebergQty')}`);
    case ErrorCode.BELOW_MIN_NOTIONAL:
      return filter('MIN_NOTIONAL', detail.replace(/^price x quantity/, 'price x quantity'));
    case ErrorCode.INVALID_QUOTE_BUDGET:
      return new BinanceError(
        BinanceCode.BAD_PRECISION,
        `Parameter 'quoteOrderQty' has too much precision: ${detail.replace(/quoteBudget/g, 'quoteOrderQty')}`,
      );
    case ErrorCode.INVALID_ORDER_OPTIONS:
      return notRequired(fieldOf(ex), detail);
    case ErrorCode.IDEMPOTENCY_KEY_REUSED:
      return new BinanceError(
        BinanceCode.NEW_ORDER_REJECTED,
        `Duplicate order sent. (newClientOrderId names an order placed with other parameters)`,
      );
    case ErrorCode.UNAUTHENTICATED:
      return new BinanceError(BinanceCode.BAD_API_KEY_FMT, 'API-key format invalid.');
    case ErrorCode.INVALID_API_KEY:
      return new BinanceError(
        BinanceCode.REJECTED_MBX_KEY,
        'Invalid API-key, IP, or permissions for action.',
      );
    case ErrorCode.BAD_SIGNATURE:
      return new BinanceError(BinanceCode.INVALID_SIGNATURE, 'Signature for this request is not valid.');
    case ErrorCode.STALE_TIMESTAMP:
      return new BinanceError(
        BinanceCode.INVALID_TIMESTAMP,
        'Timestamp for this request is outside of the recvWindow.',
      );
    case ErrorCode.REPLAYED_REQUEST:
      return new BinanceError(
        BinanceCode.INVALID_TIMESTAMP,
        'This signed request was already used: signatures are single-use, sign again with a new timestamp.',
      );
    case ErrorCode.RATE_LIMITED:
      return new BinanceError(BinanceCode.TOO_MANY_REQUESTS, `Too many requests: ${detail}.`);
    case ErrorCode.ORDER_NOT_FOUND:
    case ErrorCode.ORDER_NOT_OPEN:
      return op === 'cancel'
        ? new BinanceError(
            BinanceCode.CANCEL_REJECTED,
            ex.code === ErrorCode.ORDER_NOT_OPEN ? `Unknown order sent. (${detail})` : 'Unknown order sent.',
          )
        : new BinanceError(BinanceCode.NO_SUCH_ORDER, 'Order does not exist.');
    case ErrorCode.SERVICE_UNAVAILABLE:
      return new BinanceError(BinanceCode.SERVER_BUSY, detail);
    case ErrorCode.DEPENDENCY_UNAVAILABLE: {
      const orderId = ex instanceof DependencyUnavailableError ? ex.orderId : undefined;
      // Sent, not confirmed: Binance's "execution status unknown" (ccxt: RequestTimeout).
      if (orderId)
        return new BinanceError(
          BinanceCode.TIMEOUT,
          `Timeout waiting for response from backend server. Send status unknown; execution status unknown. orderId ${orderId}: look it up with GET /api/v3/order, or retry with the same newClientOrderId.`,
        );
      return new BinanceError(BinanceCode.DISCONNECTED, detail);
    }
    case ErrorCode.REQUEST_TIMEOUT:
      return new BinanceError(BinanceCode.TIMEOUT, detail, ex.status);
    default:
      return new BinanceError(BinanceCode.UNKNOWN, 'An unknown error occurred while processing the request.');
  }
}

/** Answers with a Binance error; an UNKNOWN is logged with its stack. */
export function replyWithBinanceError(
  reply: FastifyReply,
  err: unknown,
  op: BinanceOperation,
  logger: Pick<Logger, 'error'>,
): void {
  const b = toBinanceError(err, op);
  if (b.code === BinanceCode.UNKNOWN)
    logger.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  (reply.request as FastifyRequest & LoggedRequest).errorCode = b.platformCode ?? String(b.code);
  if (b.retryAfterSeconds !== undefined) void reply.header('Retry-After', String(b.retryAfterSeconds));
  void reply.status(b.status).send(b.toBody());
}

/** The exception filter of the /api/v3 controllers. */
@Catch()
export class BinanceExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('errors');

  catch(err: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') return;
    const http = host.switchToHttp();
    const op = (http.getRequest<FastifyRequest & { binanceOp?: BinanceOperation }>().binanceOp ??
      'other') as BinanceOperation;
    replyWithBinanceError(http.getResponse<FastifyReply>(), err, op, this.logger);
  }
}

export const BINANCE_PREFIX = '/api/v3';

/**
 * Errors answered before a /api/v3 handler runs (rate limits and load shedding, the edge checks,
 * an unknown path or method, an oversized body) are written in the platform's shape by the hooks
 * and filters that catch them; this hook rewrites them into Binance's `{code, msg}` on the way out.
 */
export function installBinanceErrorShape(fastify: FastifyInstance): void {
  fastify.addHook('onSend', async (req: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    if (reply.statusCode < 400 || !(req.url ?? '').startsWith(BINANCE_PREFIX)) return payload;
    if (typeof payload !== 'string' || !payload.startsWith('{"error":')) return payload;
    let body: ErrorBody;
    try {
      body = JSON.parse(payload) as ErrorBody;
    } catch {
      return payload;
    }
    const { code, message, field, dependency } = body.error;
    const ex =
      code === ErrorCode.DEPENDENCY_UNAVAILABLE && dependency
        ? new DependencyUnavailableError(dependency, body.error.orderId !== undefined, body.error.orderId)
        : new GatewayException(code, message, field);
    const b = binanceOf(ex, 'other');
    void reply.header('content-type', 'application/json; charset=utf-8');
    // The status stays: the hooks chose it (429, 503, 404, 405, 413, 415 ...).
    return JSON.stringify({ code: b.code, msg: b.msg });
  });
}
