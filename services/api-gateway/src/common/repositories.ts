import type { Provider } from '@nestjs/common';
import * as db from '@trading/db';
import { DatabaseService } from '@trading/nest-common';

/**
 * The repositories the gateway reads and writes through, one instance each over the pooled data
 * source, injected as Nest providers: services never build one with `new` (tests replace them).
 */
const REPOSITORIES: (new (dataSource: DatabaseService['dataSource']) => object)[] = [
  db.AccountsRepository,
  db.ApiKeysRepository,
  db.BalancesRepository,
  db.CandlesRepository,
  db.MarketsRepository,
  db.OrderQueriesRepository,
  db.TradesRepository,
];

export const repositoryProviders: Provider[] = REPOSITORIES.map((Repository) => ({
  provide: Repository,
  inject: [DatabaseService],
  useFactory: (database: DatabaseService) => new Repository(database.dataSource),
}));
