import { isDatabaseOutage, isPgConnectionMessage, isRedisOutage } from '@trading/nest-common';
import type { Dependency } from './gateway.exception';

// Which errors mean "a dependency is down" is @trading/nest-common's (dependency-errors.ts, the
// consumers use it too); the gateway's own part is which dependency a 503 names.

/**
 * The dependency an error unmistakably comes from, for errors that reached the exception filter
 * without passing a dependency-aware call site. Socket errors alone do not say whose they are.
 */
export function dependencyOf(err: unknown): Dependency | null {
  const e = typeof err === 'object' && err !== null ? (err as { name?: unknown; message?: unknown }) : {};
  const name = typeof e.name === 'string' ? e.name : '';
  if (name.startsWith('KafkaJS')) return 'kafka';
  if (name === 'MaxRetriesPerRequestError' || (name === 'ReplyError' && isRedisOutage(err))) return 'redis';
  if (name === 'QueryFailedError') return isDatabaseOutage(err) ? 'database' : null;
  const message = typeof e.message === 'string' ? e.message : '';
  if (isPgConnectionMessage(message)) return 'database';
  if (message === 'Connection is closed.' || message.includes('enableOfflineQueue')) return 'redis';
  return null;
}
