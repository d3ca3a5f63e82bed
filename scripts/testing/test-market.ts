import type { DataSource } from 'typeorm';
import { databaseSchema, loadConfig } from '@trading/config';
import { createDataSource, MarketsRepository } from '@trading/db';

/**
 * Connects to the native platform's database (through PgBouncer) and lists a fresh market for a
 * test: `base`-USDT with ticks of 0.01, lots of 0.0001, minimum notional 1, fees 10/20 bps.
 * The caller destroys the data source.
 */
export async function openTestMarket(
  applicationName: string,
  symbol: string,
  base: string,
): Promise<DataSource> {
  const db = createDataSource(loadConfig(databaseSchema), { applicationName });
  await db.initialize();
  const markets = new MarketsRepository(db);
  await markets.upsertAsset('USDT', 6);
  await markets.upsertAsset(base, 8);
  await markets.upsertMarket({
    symbol,
    baseAsset: base,
    quoteAsset: 'USDT',
    tickSize: '0.01',
    lotSize: '0.0001',
    minNotional: '1',
    makerFeeBps: 10,
    takerFeeBps: 20,
  });
  return db;
}
