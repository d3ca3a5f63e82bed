import { sampleMarketRow, type MarketRow } from '@trading/contracts';
import { GatewayException } from '../errors/gateway.exception';
import {
  checkedMarket,
  createMarketSchema,
  parseBody,
  patchMarketSchema,
  roundUpTo,
} from './operator-markets';

const row: MarketRow = sampleMarketRow({
  symbol: 'XY-USDT',
  baseAsset: 'XY',
  priceBandMin: '50',
  priceBandMax: '200',
});

/** The field a refusal names (400 VALIDATION_FAILED), or 'ok'. */
function fieldOf(f: () => unknown): string {
  try {
    f();
    return 'ok';
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayException);
    const e = err as GatewayException;
    expect([e.status, e.code]).toEqual([400, 'VALIDATION_FAILED']);
    return String(e.field);
  }
}

describe('operator markets: rules checked before anything is written', () => {
  it('turns the decimal rules into the integer market the catalog will read', () => {
    const { spec, rules } = checkedMarket(row, '0.001');
    expect(spec).toMatchObject({ minQtyLots: 10, priceBandMinTicks: 5000, priceBandMaxTicks: 20000 });
    expect(rules).toMatchObject({ minQtyLots: 10, priceBandMin: '50', priceBandMax: '200' });
    expect(checkedMarket({ ...row, priceBandMin: null, priceBandMax: null }, '0.0001').spec).toMatchObject({
      priceBandMinTicks: null,
      priceBandMaxTicks: null,
    });
  });

  it('names the field of a rule that is off its step or inconsistent', () => {
    expect(fieldOf(() => checkedMarket({ ...row, tickSize: '0' }, '0.0001'))).toBe('tickSize');
    expect(fieldOf(() => checkedMarket({ ...row, lotSize: '0' }, '0.0001'))).toBe('lotSize');
    expect(fieldOf(() => checkedMarket(row, '0.00015'))).toBe('minQuantity');
    expect(fieldOf(() => checkedMarket({ ...row, priceBandMin: '50.005' }, '0.0001'))).toBe('priceBandMin');
    expect(fieldOf(() => checkedMarket({ ...row, priceBandMax: '40' }, '0.0001'))).toBe('priceBandMax');
    // A tick x lot finer than the quote asset's smallest unit; a lot finer than the base's.
    expect(
      fieldOf(() =>
        checkedMarket({ ...row, tickSize: '0.0001', priceBandMin: null, priceBandMax: null }, '0.0001'),
      ),
    ).toBe('tickSize');
    expect(
      fieldOf(() => checkedMarket({ ...row, baseDecimals: 2, lotSize: '0.001', tickSize: '1' }, '0.001')),
    ).toBe('lotSize');
  });

  it('parses strict bodies: unknown keys, bad decimals, fees and an empty patch are named', () => {
    expect(fieldOf(() => parseBody(createMarketSchema, { symbol: 'XY-USDT' }))).toBe('baseAsset');
    expect(fieldOf(() => parseBody(patchMarketSchema, { tickSize: '1e-2' }))).toBe('tickSize');
    expect(fieldOf(() => parseBody(patchMarketSchema, { takerFeeBps: 1001 }))).toBe('takerFeeBps');
    expect(fieldOf(() => parseBody(patchMarketSchema, { venue: 'x' }))).toBe('venue');
    expect(fieldOf(() => parseBody(patchMarketSchema, {}))).toBe('undefined');
    expect(parseBody(patchMarketSchema, { priceBandMin: null })).toEqual({ priceBandMin: null });
  });

  it('rounds a minimum up to a new lot', () => {
    expect(roundUpTo('0.0001', '0.01')).toBe('0.01');
    expect(roundUpTo('0.03', '0.01')).toBe('0.03');
    expect(roundUpTo('0.031', '0.010000000000000000')).toBe('0.04');
  });
});
