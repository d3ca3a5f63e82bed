import { QueryFailedError } from 'typeorm';
import { isDatabaseOutage, isKafkaOutage, isRedisOutage } from '@trading/nest-common';
import { dependencyOf } from './dependency-errors';
import { toGatewayException } from './gateway-exception.filter';
import { ErrorCode } from './gateway.exception';

// Built the way the client libraries build them (name, code, message), without their internals.
function named(name: string, message: string, extra: Record<string, unknown> = {}): Error {
  const err = Object.assign(new Error(message), extra);
  err.name = name;
  return err;
}
const socket = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:1`), { code });
const pgError = (code: string, message = 'boom') => Object.assign(new Error(message), { code });
const queryFailed = (driverError: Error) => new QueryFailedError('SELECT 1', [], driverError);

describe('dependency error mapping', () => {
  it('takes connection failures and availability SQLSTATEs for a database outage, not query bugs', () => {
    expect(isDatabaseOutage(socket('ECONNREFUSED'))).toBe(true);
    expect(isDatabaseOutage(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isDatabaseOutage(new Error('timeout exceeded when trying to connect'))).toBe(true);
    // PgBouncer refusing (08P01), admin shutdown (57P01), too many connections (53300), statement timeout.
    for (const code of ['08P01', '08006', '57P01', '53300', '57014'])
      expect(isDatabaseOutage(queryFailed(pgError(code)))).toBe(true);
    // A connection that died mid-query: TypeORM wraps an error without SQLSTATE.
    expect(isDatabaseOutage(queryFailed(new Error('Connection terminated unexpectedly')))).toBe(true);
    // Syntax error, unique violation, bad input: our bug or a conflict, never a 503.
    for (const code of ['42601', '23505', '22P02'])
      expect(isDatabaseOutage(queryFailed(pgError(code)))).toBe(false);
    expect(isDatabaseOutage(new TypeError('x is undefined'))).toBe(false);
  });

  it('takes a reconnecting or loading Redis for an outage, not a wrong command', () => {
    expect(
      isRedisOutage(named('MaxRetriesPerRequestError', 'Reached the max retries per request limit')),
    ).toBe(true);
    expect(isRedisOutage(new Error('Connection is closed.'))).toBe(true);
    expect(isRedisOutage(socket('ECONNRESET'))).toBe(true);
    expect(isRedisOutage(named('ReplyError', 'LOADING Redis is loading the dataset in memory'))).toBe(true);
    expect(
      isRedisOutage(named('ReplyError', 'WRONGTYPE Operation against a key holding the wrong kind')),
    ).toBe(false);
  });

  it('takes any kafkajs error for a Kafka outage', () => {
    expect(
      isKafkaOutage(named('KafkaJSNumberOfRetriesExceeded', 'Connection error: connect ECONNREFUSED')),
    ).toBe(true);
    expect(isKafkaOutage(named('KafkaJSRequestTimeoutError', 'Request Produce(key: 0) timed out'))).toBe(
      true,
    );
    expect(isKafkaOutage(named('ContractViolationError', 'record violates its contract'))).toBe(false);
  });

  it('names the dependency only when the error itself says whose it is', () => {
    expect(dependencyOf(named('KafkaJSConnectionError', 'Connection error'))).toBe('kafka');
    expect(dependencyOf(named('MaxRetriesPerRequestError', 'max retries'))).toBe('redis');
    expect(dependencyOf(queryFailed(pgError('08006')))).toBe('database');
    expect(dependencyOf(new Error('Connection terminated due to connection timeout'))).toBe('database');
    expect(dependencyOf(queryFailed(pgError('42601')))).toBeNull();
    expect(dependencyOf(socket('ECONNREFUSED'))).toBeNull();
    expect(dependencyOf(new Error('boom'))).toBeNull();
  });

  it('turns an outage that escaped its call site into 503 + Retry-After naming the dependency', () => {
    const ex = toGatewayException(named('KafkaJSNumberOfRetriesExceeded', 'Connection error'));
    expect([ex.status, ex.code, ex.retryAfterSeconds]).toEqual([503, ErrorCode.DEPENDENCY_UNAVAILABLE, 1]);
    expect(ex.toBody()).toEqual({
      error: {
        code: 'DEPENDENCY_UNAVAILABLE',
        message: 'kafka is unavailable, retry shortly',
        dependency: 'kafka',
      },
    });
    expect(toGatewayException(queryFailed(pgError('57P01'))).toBody().error.dependency).toBe('database');
    // A socket error of unknown origin: still retryable, not a 500.
    expect(toGatewayException(socket('ETIMEDOUT')).status).toBe(503);
    // A query bug stays a 500.
    expect(toGatewayException(queryFailed(pgError('42601'))).code).toBe(ErrorCode.INTERNAL_ERROR);
  });
});
