import Fastify from 'fastify';
import { DependencyUnavailableError, ErrorCode, GatewayException } from '../errors/gateway.exception';
import { BinanceCode, installBinanceErrorShape, toBinanceError } from './binance.errors';

const ex = (code: ErrorCode, message = 'm', field?: string) => new GatewayException(code, message, field);
const shape = (e: unknown, op?: 'place' | 'cancel' | 'query') => {
  const b = toBinanceError(e, op);
  return [b.status, b.code, b.msg];
};

describe('Binance errors', () => {
  it('maps the platform codes to the codes clients turn into exceptions, with Binance statuses', () => {
    expect(shape(ex(ErrorCode.INVALID_API_KEY))).toEqual([
      401,
      BinanceCode.REJECTED_MBX_KEY,
      'Invalid API-key, IP, or permissions for action.',
    ]);
    expect(shape(ex(ErrorCode.BAD_SIGNATURE))).toEqual([
      400,
      BinanceCode.INVALID_SIGNATURE,
      'Signature for this request is not valid.',
    ]);
    expect(shape(ex(ErrorCode.STALE_TIMESTAMP)).slice(0, 2)).toEqual([400, BinanceCode.INVALID_TIMESTAMP]);
    expect(shape(ex(ErrorCode.RATE_LIMITED)).slice(0, 2)).toEqual([429, BinanceCode.TOO_MANY_REQUESTS]);
    expect(shape(ex(ErrorCode.UNKNOWN_SYMBOL))).toEqual([400, BinanceCode.BAD_SYMBOL, 'Invalid symbol.']);
    expect(shape(ex(ErrorCode.MARKET_HALTED))).toEqual([
      400,
      BinanceCode.FILTER_FAILURE,
      'Market is closed.',
    ]);
  });

  it('says which filter failed, so clients see PRICE_FILTER, LOT_SIZE or MIN_NOTIONAL', () => {
    expect(shape(ex(ErrorCode.PRICE_OFF_TICK, 'price must be a multiple of 0.01', 'price'))).toEqual([
      400,
      BinanceCode.FILTER_FAILURE,
      'Filter failure: PRICE_FILTER (price must be a multiple of 0.01)',
    ]);
    expect(shape(ex(ErrorCode.BELOW_MIN_QTY, 'quantity must be at least 0.0001', 'quantity'))[2]).toBe(
      'Filter failure: LOT_SIZE (quantity must be at least 0.0001)',
    );
    expect(shape(ex(ErrorCode.BELOW_MIN_NOTIONAL, 'price x quantity must be at least 1 USDT'))[2]).toMatch(
      /^Filter failure: MIN_NOTIONAL/,
    );
    expect(shape(ex(ErrorCode.INVALID_DISPLAY_QTY, 'displayQuantity cannot exceed quantity'))[2]).toBe(
      'Filter failure: LOT_SIZE (icebergQty: icebergQty cannot exceed quantity)',
    );
  });

  it('tells an unknown order apart by operation: -2011 to a cancel, -2013 to a query', () => {
    expect(shape(ex(ErrorCode.ORDER_NOT_FOUND), 'cancel').slice(0, 2)).toEqual([
      400,
      BinanceCode.CANCEL_REJECTED,
    ]);
    expect(shape(ex(ErrorCode.ORDER_NOT_OPEN, 'order is filled'), 'cancel')[2]).toBe(
      'Unknown order sent. (order is filled)',
    );
    expect(shape(ex(ErrorCode.ORDER_NOT_FOUND), 'query')).toEqual([
      400,
      BinanceCode.NO_SUCH_ORDER,
      'Order does not exist.',
    ]);
  });

  it('names the Binance parameter behind a platform field', () => {
    expect(shape(ex(ErrorCode.INVALID_ORDER_OPTIONS, 'x', 'displayQuantity'))[2]).toMatch(
      /^Parameter 'icebergQty' sent when not required/,
    );
    expect(shape(ex(ErrorCode.VALIDATION_FAILED, 'bad', 'clientOrderId'))[2]).toMatch(/'newClientOrderId'/);
    expect(shape(ex(ErrorCode.IDEMPOTENCY_KEY_REUSED))[1]).toBe(BinanceCode.NEW_ORDER_REJECTED);
  });

  it('answers an outage with 503: -1001, or -1007 (status unknown) when the order may stand', () => {
    expect(shape(new DependencyUnavailableError('kafka')).slice(0, 2)).toEqual([
      503,
      BinanceCode.DISCONNECTED,
    ]);
    const unknown = toBinanceError(new DependencyUnavailableError('kafka', true, 'order-1'));
    expect([unknown.status, unknown.code, unknown.retryAfterSeconds]).toEqual([503, BinanceCode.TIMEOUT, 1]);
    expect(unknown.msg).toContain('order-1');
    expect(shape(new Error('boom')).slice(0, 2)).toEqual([500, BinanceCode.UNKNOWN]);
  });

  it('rewrites the edge errors of /api/v3 answers into {code, msg}, keeping their status', async () => {
    const app = Fastify();
    installBinanceErrorShape(app);
    app.get('/api/v3/limited', (_req, reply) => {
      void reply.code(429).send({ error: { code: 'RATE_LIMITED', message: 'rate limit of 1 per ip' } });
    });
    app.get('/v1/limited', (_req, reply) => {
      void reply.code(429).send({ error: { code: 'RATE_LIMITED', message: 'rate limit of 1 per ip' } });
    });
    app.get('/api/v3/field', (_req, reply) => {
      void reply.code(400).send({ error: { code: 'VALIDATION_FAILED', message: 'no', field: 'symbol' } });
    });
    const limited = await app.inject({ url: '/api/v3/limited' });
    expect([limited.statusCode, limited.json()]).toEqual([
      429,
      { code: BinanceCode.TOO_MANY_REQUESTS, msg: 'Too many requests: rate limit of 1 per ip.' },
    ]);
    expect((await app.inject({ url: '/v1/limited' })).json()).toEqual({
      error: { code: 'RATE_LIMITED', message: 'rate limit of 1 per ip' },
    });
    expect((await app.inject({ url: '/api/v3/field' })).json()).toEqual({
      code: BinanceCode.ILLEGAL_CHARS,
      msg: "Illegal characters found in parameter 'symbol': no",
    });
    await app.close();
  });
});
