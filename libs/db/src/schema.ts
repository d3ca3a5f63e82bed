import { AssetEntity } from './entities/asset.entity';
import { MarketEntity } from './entities/market.entity';
import { InitialSchema1732406400000 } from './migrations/1732406400000-initial-schema.migration';
import { OrderPipeline1732406500000 } from './migrations/1732406500000-order-pipeline.migration';
import { BalancesLedger1732406600000 } from './migrations/1732406600000-balances-ledger.migration';
import { OrderFeeRates1732406700000 } from './migrations/1732406700000-order-fee-rates.migration';
import { SettlementWritePath1732406800000 } from './migrations/1732406800000-settlement-write-path.migration';
import { RouterGroupCommit1732406900000 } from './migrations/1732406900000-router-group-commit.migration';
import { MarketPriceBand1732407000000 } from './migrations/1732407000000-market-price-band.migration';
import { AccountStream1732407100000 } from './migrations/1732407100000-account-stream.migration';
import { OrderAmendsInFlight1732407200000 } from './migrations/1732407200000-order-amends-in-flight.migration';

/** Every entity and migration, in order; data sources and the migrate command use these lists. */
export const ENTITIES = [AssetEntity, MarketEntity];
export const MIGRATIONS = [
  InitialSchema1732406400000,
  OrderPipeline1732406500000,
  BalancesLedger1732406600000,
  OrderFeeRates1732406700000,
  SettlementWritePath1732406800000,
  RouterGroupCommit1732406900000,
  MarketPriceBand1732407000000,
  AccountStream1732407100000,
  OrderAmendsInFlight1732407200000,
];
