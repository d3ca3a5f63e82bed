import { BinanceCode, BinanceError } from './binance.errors';
import { BinanceParams, parsePairs, queryStringOf, withoutSignature } from './binance-params';

function codeOf(f: () => unknown): [number, string] {
  try {
    f();
  } catch (err) {
    if (err instanceof BinanceError) return [err.code, err.msg];
    throw err;
  }
  throw new Error('expected a BinanceError');
}

describe('Binance parameters', () => {
  it('reads the query string and the form body together, decoded', () => {
    expect(queryStringOf('/api/v3/order?symbol=BTCUSDT&side=BUY')).toBe('symbol=BTCUSDT&side=BUY');
    expect(queryStringOf('/api/v3/ping')).toBe('');
    expect(parsePairs('a=1&b=x%2By+z&&c=')).toEqual([
      ['a', '1'],
      ['b', 'x+y z'],
      ['c', ''],
    ]);
    const p = BinanceParams.of('symbol=BTCUSDT', 'quantity=0.10000000&price=100');
    expect([p.required('symbol'), p.decimal('quantity'), p.decimal('price')]).toEqual([
      'BTCUSDT',
      '0.10000000',
      '100',
    ]);
    p.finish();
  });

  it('refuses a parameter sent twice, in one part or across query and body', () => {
    expect(codeOf(() => BinanceParams.of('limit=1&limit=2', ''))[0]).toBe(BinanceCode.TOO_MANY_PARAMETERS);
    expect(codeOf(() => BinanceParams.of('symbol=A', 'symbol=B'))).toEqual([
      BinanceCode.TOO_MANY_PARAMETERS,
      "Duplicate values for parameter 'symbol'; send each parameter once.",
    ]);
  });

  it('refuses control characters and malformed escapes, naming the parameter', () => {
    expect(codeOf(() => BinanceParams.of('symbol=BTC%00USDT', ''))).toEqual([
      BinanceCode.ILLEGAL_CHARS,
      "Illegal characters found in parameter 'symbol'; legal range is 'no control characters'.",
    ]);
    expect(codeOf(() => BinanceParams.of('price=%E0%A4%A', ''))[1]).toContain("'price'");
  });

  it('refuses what no endpoint reads, naming it (-1103), after the getters ran', () => {
    const p = BinanceParams.of('symbol=BTCUSDT&foo=1', '');
    p.required('symbol');
    expect(codeOf(() => p.finish())).toEqual([
      BinanceCode.UNKNOWN_PARAM,
      "An unknown parameter was sent: 'foo'.",
    ]);
    expect(codeOf(() => BinanceParams.of('__proto__=1', ''))[0]).toBe(BinanceCode.UNKNOWN_PARAM);
  });

  it('names a missing or empty mandatory parameter (-1102)', () => {
    const p = BinanceParams.of('symbol=', '');
    expect(codeOf(() => p.required('symbol'))).toEqual([
      BinanceCode.MANDATORY_PARAM_EMPTY_OR_MALFORMED,
      "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
    ]);
  });

  it('takes decimals as plain decimal strings and integers as digits within their range', () => {
    const p = BinanceParams.of('a=1e5&b=-1&c=0.5&d=00.25&limit=0x10&n=5001&m=500', '');
    expect(codeOf(() => p.decimal('a'))[0]).toBe(BinanceCode.ILLEGAL_CHARS);
    expect(codeOf(() => p.decimal('b'))[0]).toBe(BinanceCode.ILLEGAL_CHARS);
    expect(p.decimal('c')).toBe('0.5');
    expect(p.decimal('d')).toBe('0.25');
    expect(codeOf(() => p.integer('limit', 1, 5000))[0]).toBe(BinanceCode.ILLEGAL_CHARS);
    expect(codeOf(() => p.integer('n', 1, 5000))[0]).toBe(BinanceCode.INVALID_PARAMETER);
    expect(p.integer('m', 1, 5000)).toBe(500);
    expect(p.integer('absent', 1, 5000)).toBeUndefined();
  });

  it('drops only the signature from the signed payload, leaving the rest as sent', () => {
    expect(withoutSignature('symbol=BTCUSDT&timestamp=1&signature=abc')).toBe('symbol=BTCUSDT&timestamp=1');
    expect(withoutSignature('signature=abc&x=%20')).toBe('x=%20');
    expect(withoutSignature('')).toBe('');
  });
});
