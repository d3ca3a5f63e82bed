import type { Provider } from '@nestjs/common';
import {
  AccountsRepository,
  ApiKeysRepository,
  BalancesRepository,
  CandlesRepository,
  MarketsRepository,
  OrderQueriesRepository,
  TradesRepository,
} from '@trading/db';
import { DatabaseService } from '@trading/nest-common';

/**
 * The repositories the gateway reads and writes through, one instance each over the pooled data
 * source, injected as Nest providers: services never build one with `new` (tests replace them).
 */
const REPOSITORIES: (new (db: DatabaseService['dataSource']) => object)[] = [
  AccountsRepository,
  ApiKeysRepository,
  BalancesRepository,
  CandlesRepository,
  MarketsRepository,
  OrderQueriesRepository,
  TradesRepository,
];

export const repositoryProviders: Provider[] = REPOSITORIES.map((Repository) => ({
  provide: Repository,
  inject: [DatabaseService],
  useFactory: (db: DatabaseService) => new Repository(db.dataSource),
}));
