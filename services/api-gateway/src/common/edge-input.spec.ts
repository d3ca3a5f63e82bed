import { z } from 'zod';
import { clientErrorResponse } from '../errors/framework-errors';
import {
  hasControlCharacter,
  inspectJson,
  inspectParameters,
  queryInteger,
  unsupportedEncoding,
} from './edge-input';
import { RouteTable } from './route-table';

const refusal = (text: string) => {
  JSON.parse(text); // inspectJson sees only what JSON.parse accepted
  const ex = inspectJson(text);
  return ex && { code: ex.code, field: ex.field, status: ex.status };
};

describe('inspectJson', () => {
  it('accepts ordinary bodies, the same key in different objects, and escaped printable text', () => {
    for (const text of [
      '{"symbol":"BTC-USDT","side":"buy","quantity":"1"}',
      '{"a":{"x":1},"b":{"x":1},"c":[{"x":1},{"x":2}]}',
      '{"name":"caf\\u00e9 \\"quoted\\" \\\\ \\/"}',
      '[]',
      '"text"',
      '{}',
    ])
      expect(refusal(text)).toBeNull();
  });

  it('refuses a duplicate key naming it, also when escaped or nested', () => {
    expect(refusal('{"side":"buy","type":"limit","side":"sell"}')).toEqual({
      code: 'MALFORMED_JSON',
      field: 'side',
      status: 400,
    });
    expect(refusal('{"side":"buy","s\\u0069de":"sell"}')?.field).toBe('side');
    expect(refusal('{"a":[{"b":1},{"b":1,"b":2}]}')?.field).toBe('a.1.b');
  });

  it('refuses prototype keys naming them', () => {
    expect(refusal('{"__proto__":{"admin":true}}')).toMatchObject({
      code: 'MALFORMED_JSON',
      field: '__proto__',
    });
    expect(refusal('{"x":{"constructor":{"prototype":{}}}}')?.field).toBe('x.constructor');
    expect(refusal('{"x":[1,{"prototype":1}]}')?.field).toBe('x.1.prototype');
  });

  it('refuses control characters and lone surrogates in values and keys, naming the field', () => {
    expect(refusal('{"name":"a\\u0000b"}')).toEqual({
      code: 'VALIDATION_FAILED',
      field: 'name',
      status: 400,
    });
    expect(refusal('{"a":{"b":["ok","\\u0007"]}}')?.field).toBe('a.b.1');
    expect(refusal('{"name":"a\u007fb"}')?.field).toBe('name');
    expect(refusal('{"name":"a\u0085b"}')?.field).toBe('name');
    expect(refusal('{"name":"\\ud800"}')?.field).toBe('name');
    expect(refusal('{"a\\u0000":1}')?.field).toBe('"a\\u0000"');
    expect(refusal('"\\u0000"')).toMatchObject({ code: 'VALIDATION_FAILED', field: undefined });
    // A surrogate pair is one printable character.
    expect(refusal('{"name":"\\ud83d\\ude00"}')).toBeNull();
  });
});

describe('edge checks of parameters and headers', () => {
  it('names the query parameter or path parameter with a control character; a cursor is INVALID_CURSOR', () => {
    expect(inspectParameters({ symbol: 'BTC-USDT' }, { id: 'x' })).toBeNull();
    expect(inspectParameters({ symbol: 'BTC-USDT\u0000' })?.field).toBe('symbol');
    expect(inspectParameters({ limit: ['1', '\u001f'] })?.field).toBe('limit');
    expect(inspectParameters({}, { id: 'a\u0000' })?.field).toBe('id');
    expect(inspectParameters({ cursor: '\u0000' })).toMatchObject({
      code: 'INVALID_CURSOR',
      field: 'cursor',
    });
    expect(hasControlCharacter('tab\there')).toBe(true);
    expect(hasControlCharacter('plain €')).toBe(false);
  });

  it('accepts no content encoding but identity', () => {
    expect(unsupportedEncoding(undefined)).toBe(false);
    expect(unsupportedEncoding('identity')).toBe(false);
    expect(unsupportedEncoding(' Identity ')).toBe(false);
    for (const v of ['br', 'gzip', 'identity, gzip', 'x-anything']) expect(unsupportedEncoding(v)).toBe(true);
  });

  it('takes decimal digits only as query integers', () => {
    const schema = z.object({ limit: queryInteger(1, 500, 50) });
    expect(schema.parse({})).toEqual({ limit: 50 });
    expect(schema.parse({ limit: '16' })).toEqual({ limit: 16 });
    for (const v of ['0x10', '1e2', ' 10', '10.0', '0b11', '0', '501', '', '-1'])
      expect(schema.safeParse({ limit: v }).success).toBe(false);
  });

  it('knows the methods of a path for 405', () => {
    const t = new RouteTable();
    t.add('GET', '/v1/orders');
    t.add(['POST', 'HEAD'], '/v1/orders');
    t.add('DELETE', '/v1/orders/:id');
    t.add('GET', '/docs/*');
    expect(t.allowed('/v1/orders?limit=1')).toEqual(['GET', 'HEAD', 'POST']);
    expect(t.allowed('/v1/orders/abc')).toEqual(['DELETE']);
    expect(t.allowed('/v1/orders/')).toEqual([]);
    expect(t.allowed('/v1/orders/abc/x')).toEqual([]);
    expect(t.allowed('/docs/a/b')).toEqual(['GET']);
  });

  it("writes Node's parser refusals in the platform's shape", () => {
    const overflow = clientErrorResponse('HPE_HEADER_OVERFLOW');
    expect(overflow).toMatch(/^HTTP\/1\.1 431 /);
    expect(JSON.parse(overflow.split('\r\n\r\n')[1])).toEqual({
      error: { code: 'HEADERS_TOO_LARGE', message: 'request headers too large' },
    });
    expect(clientErrorResponse('HPE_UNEXPECTED_CONTENT_LENGTH')).toMatch(
      /^HTTP\/1\.1 400 [\s\S]*MALFORMED_REQUEST/,
    );
  });
});
