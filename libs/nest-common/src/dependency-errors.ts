// Which thrown errors mean "a dependency is down or too slow" (503 at the gateway, a retry in a
// consumer) rather than "this request or our code is wrong" (4xx / 500, a refused batch). Pure: errors are recognised by shape, not by class,
// so the mapping is unit-tested without the client libraries' internals.

// SQLSTATE: 08 connection exception, 53 insufficient resources, 57P admin shutdown / cannot
// connect now, 57014 statement timeout or cancel. PgBouncer reports its own refusals as 08P01.
const DATABASE_UNAVAILABLE_SQLSTATE = /^(08|53|57P|57014)/;

// What pg and pg-pool throw when the connection itself fails (there is no SQLSTATE then).
const PG_CONNECTION_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Cannot use a pool after calling end on the pool',
];

// Socket-level failures, whoever the peer is.
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

// Redis replies that mean "not now" rather than "wrong command".
const REDIS_UNAVAILABLE_REPLY = /^(LOADING|BUSY|MASTERDOWN|READONLY|TRYAGAIN|CLUSTERDOWN)\b/;

interface ErrorShape {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  driverError?: unknown;
}

/** A message pg or pg-pool gives when the connection itself failed (no SQLSTATE then). */
export function isPgConnectionMessage(message: string): boolean {
  return PG_CONNECTION_MESSAGES.some((m) => message.startsWith(m));
}

function shape(err: unknown): ErrorShape {
  return typeof err === 'object' && err !== null ? (err as ErrorShape) : {};
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** A socket error (refused, reset, timed out, unreachable), from any client. */
export function isNetworkError(err: unknown): boolean {
  return NETWORK_CODES.has(str(shape(err).code));
}

/** The database (PgBouncer / PostgreSQL) is down, refusing or too slow; not a bad query. */
export function isDatabaseOutage(err: unknown): boolean {
  const e = shape(err);
  if (str(e.name) === 'QueryFailedError') {
    // TypeORM wraps what pg threw: a SQLSTATE says which; none means the connection broke.
    const driver = shape(e.driverError);
    const code = str(driver.code);
    if (code === '') return true;
    return DATABASE_UNAVAILABLE_SQLSTATE.test(code) || NETWORK_CODES.has(code);
  }
  const code = str(e.code);
  if (/^[0-9A-Z]{5}$/.test(code)) return DATABASE_UNAVAILABLE_SQLSTATE.test(code);
  const message = str(e.message);
  return isNetworkError(err) || isPgConnectionMessage(message);
}

/** Redis is down, reconnecting or loading; not a wrong command. */
export function isRedisOutage(err: unknown): boolean {
  const e = shape(err);
  const name = str(e.name);
  const message = str(e.message);
  if (name === 'MaxRetriesPerRequestError') return true;
  if (name === 'ReplyError') return REDIS_UNAVAILABLE_REPLY.test(message);
  return (
    isNetworkError(err) ||
    message === 'Connection is closed.' ||
    message.includes('enableOfflineQueue') ||
    message.startsWith('redis did not answer')
  );
}

/** kafkajs failed to reach the cluster or to get an acknowledgement in time. */
export function isKafkaOutage(err: unknown): boolean {
  return str(shape(err).name).startsWith('KafkaJS') || isNetworkError(err);
}
