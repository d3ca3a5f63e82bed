import { REJECT_CODES, type RejectCode } from '@trading/contracts';

/** The named codes of REJECT_CODES as an object of their own (code: code). */
function rejectCodes<C extends RejectCode>(...codes: C[]): { readonly [K in C]: K } {
  return Object.fromEntries(codes.map((c) => [c, REJECT_CODES[c]])) as unknown as { [K in C]: K };
}

/** Every error the API answers with; the code is the contract, the message is for humans. */
export const ErrorCode = {
  VALIDATION_FAILED: 'VALIDATION_FAILED',
  MALFORMED_JSON: 'MALFORMED_JSON',
  // The order refusals are the pipeline's one vocabulary (@trading/contracts' REJECT_CODES): the
  // same check answers the same code here, in the order-router and in the matching engine.
  // MARKET_BUY_UNBOUNDED: a market or stop-market buy with neither protectionPrice nor
  // quoteBudget; IDEMPOTENCY_KEY_REUSED: a clientOrderId or operator commandId used again with a
  // different body (the field says which).
  ...rejectCodes(
    'UNKNOWN_SYMBOL',
    'MARKET_HALTED',
    'INVALID_PRICE',
    'PRICE_OFF_TICK',
    'INVALID_QUANTITY',
    'BELOW_MIN_QTY',
    'BELOW_MIN_NOTIONAL',
    'INVALID_STOP_PRICE',
    'INVALID_DISPLAY_QTY',
    'INVALID_PROTECTION_PRICE',
    'INVALID_QUOTE_BUDGET',
    'INVALID_ORDER_OPTIONS',
    'MARKET_BUY_UNBOUNDED',
    'IDEMPOTENCY_KEY_REUSED',
  ),
  INVALID_CURSOR: 'INVALID_CURSOR',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  INVALID_API_KEY: 'INVALID_API_KEY',
  STALE_TIMESTAMP: 'STALE_TIMESTAMP',
  BAD_SIGNATURE: 'BAD_SIGNATURE',
  REPLAYED_REQUEST: 'REPLAYED_REQUEST',
  RATE_LIMITED: 'RATE_LIMITED',
  ORDER_NOT_FOUND: 'ORDER_NOT_FOUND',
  ORDER_NOT_OPEN: 'ORDER_NOT_OPEN',
  API_KEY_NOT_FOUND: 'API_KEY_NOT_FOUND',
  ACCOUNT_NOT_FOUND: 'ACCOUNT_NOT_FOUND',
  /** POST /v1/operator/accounts for an account id that exists (a key: its api-keys route). */
  ACCOUNT_EXISTS: 'ACCOUNT_EXISTS',
  /** POST /v1/operator/markets for a symbol that is listed already: nothing changes. */
  MARKET_EXISTS: 'MARKET_EXISTS',
  /** PATCH of a market's tickSize or lotSize while it trades (field: the rule): halt it first. */
  MARKET_NOT_HALTED: 'MARKET_NOT_HALTED',
  /** PATCH of a market's tickSize or lotSize while any of its orders is open (field: the rule). */
  MARKET_HAS_OPEN_ORDERS: 'MARKET_HAS_OPEN_ORDERS',
  NOT_FOUND: 'NOT_FOUND',
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  /** The HTTP request itself is malformed (a URL that does not decode, a refused framing). */
  MALFORMED_REQUEST: 'MALFORMED_REQUEST',
  REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  URI_TOO_LONG: 'URI_TOO_LONG',
  HEADERS_TOO_LARGE: 'HEADERS_TOO_LARGE',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  DEPENDENCY_UNAVAILABLE: 'DEPENDENCY_UNAVAILABLE',
  INTERNAL_ERROR: 'INTERNAL_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The one place codes become HTTP statuses. */
export const ERROR_STATUS: Record<ErrorCode, number> = {
  [ErrorCode.VALIDATION_FAILED]: 400,
  [ErrorCode.MALFORMED_JSON]: 400,
  [ErrorCode.UNKNOWN_SYMBOL]: 400,
  [ErrorCode.MARKET_HALTED]: 409,
  [ErrorCode.INVALID_PRICE]: 400,
  [ErrorCode.PRICE_OFF_TICK]: 400,
  [ErrorCode.INVALID_QUANTITY]: 400,
  [ErrorCode.BELOW_MIN_QTY]: 400,
  [ErrorCode.BELOW_MIN_NOTIONAL]: 400,
  [ErrorCode.INVALID_STOP_PRICE]: 400,
  [ErrorCode.INVALID_DISPLAY_QTY]: 400,
  [ErrorCode.INVALID_PROTECTION_PRICE]: 400,
  [ErrorCode.INVALID_QUOTE_BUDGET]: 400,
  [ErrorCode.INVALID_ORDER_OPTIONS]: 400,
  [ErrorCode.MARKET_BUY_UNBOUNDED]: 400,
  [ErrorCode.INVALID_CURSOR]: 400,
  [ErrorCode.UNAUTHENTICATED]: 401,
  [ErrorCode.INVALID_API_KEY]: 401,
  [ErrorCode.STALE_TIMESTAMP]: 401,
  [ErrorCode.BAD_SIGNATURE]: 401,
  [ErrorCode.REPLAYED_REQUEST]: 401,
  [ErrorCode.RATE_LIMITED]: 429,
  [ErrorCode.ORDER_NOT_FOUND]: 404,
  [ErrorCode.ORDER_NOT_OPEN]: 409,
  [ErrorCode.IDEMPOTENCY_KEY_REUSED]: 409,
  [ErrorCode.API_KEY_NOT_FOUND]: 404,
  [ErrorCode.ACCOUNT_NOT_FOUND]: 404,
  [ErrorCode.ACCOUNT_EXISTS]: 409,
  [ErrorCode.MARKET_EXISTS]: 409,
  [ErrorCode.MARKET_NOT_HALTED]: 409,
  [ErrorCode.MARKET_HAS_OPEN_ORDERS]: 409,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.METHOD_NOT_ALLOWED]: 405,
  [ErrorCode.MALFORMED_REQUEST]: 400,
  [ErrorCode.REQUEST_TIMEOUT]: 408,
  [ErrorCode.URI_TOO_LONG]: 414,
  [ErrorCode.HEADERS_TOO_LARGE]: 431,
  [ErrorCode.PAYLOAD_TOO_LARGE]: 413,
  [ErrorCode.UNSUPPORTED_MEDIA_TYPE]: 415,
  [ErrorCode.SERVICE_UNAVAILABLE]: 503,
  [ErrorCode.DEPENDENCY_UNAVAILABLE]: 503,
  [ErrorCode.INTERNAL_ERROR]: 500,
};

/** What a request may wait on; named in DEPENDENCY_UNAVAILABLE bodies and in /health/ready. */
export type Dependency = 'kafka' | 'database' | 'redis';

/** Seconds a client should wait before retrying after a 503. */
export const RETRY_AFTER_SECONDS = 1;

export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    field?: string;
    dependency?: Dependency;
    /** A placement whose outcome is unknown (sent, not confirmed): look it up by this id. */
    orderId?: string;
  };
}

/** The gateway's one exception: a code, a message safe to show, and the offending field. */
export class GatewayException extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
    /** Seconds for Retry-After (503). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'GatewayException';
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }

  toBody(): ErrorBody {
    return {
      error: { code: this.code, message: this.message, ...(this.field ? { field: this.field } : {}) },
    };
  }

  /** 503 for the gateway itself (shutting down, at capacity); a dependency has its own code. */
  static unavailable(what: string): GatewayException {
    return new GatewayException(
      ErrorCode.SERVICE_UNAVAILABLE,
      `${what} is unavailable, retry shortly`,
      undefined,
      RETRY_AFTER_SECONDS,
    );
  }

  /** 503 + Retry-After naming the dependency that is down: nothing of the request was accepted. */
  static dependencyUnavailable(dependency: Dependency): DependencyUnavailableError {
    return new DependencyUnavailableError(dependency);
  }
}

/** A dependency (Kafka, the database, Redis) is down or too slow: retryable, never a 500. */
export class DependencyUnavailableError extends GatewayException {
  constructor(
    readonly dependency: Dependency,
    /**
     * Set when the command may have reached Kafka although no acknowledgement came (a timeout or
     * an error after sending): the request was not confirmed, but it may still take effect.
     */
    readonly outcomeUnknown = false,
    readonly orderId?: string,
  ) {
    super(
      ErrorCode.DEPENDENCY_UNAVAILABLE,
      orderId
        ? `${dependency} did not confirm the order in time; its outcome is unknown: look it up with GET /v1/orders/${orderId}, or retry with the same clientOrderId`
        : `${dependency} is unavailable, retry shortly`,
      undefined,
      RETRY_AFTER_SECONDS,
    );
    this.name = 'DependencyUnavailableError';
  }

  /** The same refusal, naming the order whose placement may still take effect. */
  forOrder(orderId: string): DependencyUnavailableError {
    return this.outcomeUnknown ? new DependencyUnavailableError(this.dependency, true, orderId) : this;
  }

  override toBody(): ErrorBody {
    const body = super.toBody();
    return {
      error: {
        ...body.error,
        dependency: this.dependency,
        ...(this.orderId ? { orderId: this.orderId } : {}),
      },
    };
  }
}
