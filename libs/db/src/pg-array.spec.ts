import { pgArray, pgArrays } from './pg-array';

describe('pgArray', () => {
  it('quotes strings, escapes quotes and backslashes, and leaves integers, booleans and NULL bare', () => {
    expect(pgArray(['a', 'b c', '', 'NULL', '{x,y}'])).toBe('{"a","b c","","NULL","{x,y}"}');
    expect(pgArray(['say "hi"', 'back\\slash', '{"k": "v\\n"}'])).toBe(
      String.raw`{"say \"hi\"","back\\slash","{\"k\": \"v\\n\"}"}`,
    );
    expect(pgArray([1, -2, 9007199254740991n * 4n, 0n, true, false, null, undefined])).toBe(
      '{1,-2,36028797018963964,0,t,f,NULL,NULL}',
    );
    // Control characters and lone surrogates stay as they are (only `"` and `\` are escaped).
    expect(pgArray(['line\nbreak "q"', 'tab\t\\', '\ud800 "x"'])).toBe(
      '{"line\nbreak \\"q\\"","tab\t\\\\","\ud800 \\"x\\""}',
    );
    expect(pgArray([])).toBe('{}');
    expect(pgArrays([['x'], [1]])).toEqual(['{"x"}', '{1}']);
  });

  it('refuses what no repository passes: fractions, unsafe numbers, objects', () => {
    expect(() => pgArray([1.5])).toThrow(/not a safe integer/);
    expect(() => pgArray([2 ** 60])).toThrow(/not a safe integer/);
    expect(() => pgArray([{ a: 1 }])).toThrow(/cannot encode a object/);
  });
});
