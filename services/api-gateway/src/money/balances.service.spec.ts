import type { BalancesRepository, MarketsRepository } from '@trading/db';
import type { DatabaseService } from '@trading/nest-common';
import type { AuthenticatedAccount } from '../auth/api-key-auth.service';
import type { HistoryReads } from '../common/history-reads';
import { BalancesService } from './balances.service';

// One gateway task's view of an account's money while an operator lists a new asset: the task
// read the assets before the listing, the deposit of the new asset was taken by another task.
describe('BalancesService', () => {
  it('shows an asset listed after its first read with the asset’s decimals, not 0', async () => {
    const assets = [{ code: 'USDT', decimals: 6 }];
    let rows = [{ accountId: 'a', asset: 'USDT', available: 5_000_000n, held: 0n }];
    const service = new BalancesService(
      { dataSource: { isInitialized: true } } as unknown as DatabaseService,
      { forAccounts: async () => rows } as unknown as BalancesRepository,
      { findAssets: async () => assets } as unknown as MarketsRepository,
      {} as HistoryReads,
    );
    const account = { accountId: 'a' } as AuthenticatedAccount;
    expect((await service.balances(account)).balances).toEqual([
      { asset: 'USDT', available: '5', held: '0' },
    ]);

    assets.push({ code: 'NEWCOIN', decimals: 8 });
    rows = [...rows, { accountId: 'a', asset: 'NEWCOIN', available: 100_000_000n, held: 0n }];
    expect((await service.balances(account)).balances).toEqual([
      { asset: 'NEWCOIN', available: '1', held: '0' },
      { asset: 'USDT', available: '5', held: '0' },
    ]);
  });
});
