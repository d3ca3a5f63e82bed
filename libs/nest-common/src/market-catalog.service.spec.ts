import type { DatabaseService } from './infra.providers';
import { MarketCatalogService } from './market-catalog.service';

// The catalog's contract with the consumers (router settlement, matching, market-data): a market
// is "unknown" only after a successful read; a catalog that cannot be read throws, so the batch
// is retried instead of settling, matching or rejecting without the market.

const ROW = {
  symbol: 'BTC-USDT',
  base_asset: 'BTC',
  quote_asset: 'USDT',
  base_decimals: 8,
  quote_decimals: 6,
  tick_size: '0.01',
  lot_size: '0.0001',
  min_qty_lots: '1',
  min_notional: '1',
  maker_fee_bps: 10,
  taker_fee_bps: 20,
  price_band_min: null,
  price_band_max: null,
  status: 'active',
};

interface FakeState {
  initialized: boolean;
  fail: boolean;
  rows: object[];
  /** The catalog's digest as PostgreSQL would answer it; rowReads counts the reads of the rows. */
  digest?: string;
  rowReads?: number;
}

function fakeDb(state: FakeState): DatabaseService {
  return {
    dataSource: {
      get isInitialized() {
        return state.initialized;
      },
      query: async (sql: string) => {
        if (state.fail) throw new Error('connect ECONNREFUSED 127.0.0.1:16432');
        if (sql.includes('md5(')) return [{ digest: state.digest ?? 'digest-1' }];
        state.rowReads = (state.rowReads ?? 0) + 1;
        return state.rows;
      },
    },
  } as unknown as DatabaseService;
}

describe('MarketCatalogService', () => {
  it('throws instead of answering "unknown" while the database is not connected', async () => {
    const state = { initialized: false, fail: false, rows: [ROW] };
    const catalog = new MarketCatalogService(fakeDb(state));
    await expect(catalog.ensureLoaded()).rejects.toThrow(/not connected/);
    await expect(catalog.refresh('BTC-USDT')).rejects.toThrow(/not connected/);
    await expect(catalog.require('BTC-USDT')).rejects.toThrow(/not connected/);
    expect(catalog.isLoaded).toBe(false);

    state.initialized = true;
    await catalog.ensureLoaded();
    expect(catalog.isLoaded).toBe(true);
    expect((await catalog.require('BTC-USDT')).symbol).toBe('BTC-USDT');
  });

  it('throws when the read fails, and keeps the markets it had', async () => {
    const state = { initialized: true, fail: false, rows: [ROW] };
    const catalog = new MarketCatalogService(fakeDb(state));
    await catalog.ensureLoaded();
    state.fail = true;
    await expect(catalog.refresh('ETH-USDT')).rejects.toThrow(/ECONNREFUSED/);
    expect(catalog.get('BTC-USDT')?.symbol).toBe('BTC-USDT');
  });

  it('answers undefined for a market that a successful read does not have; require() throws', async () => {
    const catalog = new MarketCatalogService(fakeDb({ initialized: true, fail: false, rows: [ROW] }));
    expect(await catalog.refresh('ETH-USDT')).toBeUndefined();
    await expect(catalog.require('ETH-USDT')).rejects.toThrow(/ETH-USDT is not in the catalog/);
  });

  it('reads the rows only when the digest changed', async () => {
    const state: FakeState = { initialized: true, fail: false, rows: [ROW], digest: 'a' };
    const catalog = new MarketCatalogService(fakeDb(state));
    await catalog.ensureLoaded();
    expect(await catalog.refresh('ETH-USDT')).toBeUndefined();
    expect(await catalog.refresh('ETH-USDT')).toBeUndefined();
    expect(state.rowReads).toBe(1);

    state.rows = [ROW, { ...ROW, symbol: 'ETH-USDT', base_asset: 'ETH' }];
    state.digest = 'b';
    expect((await catalog.refresh('ETH-USDT'))?.symbol).toBe('ETH-USDT');
    expect(state.rowReads).toBe(2);
  });
});
