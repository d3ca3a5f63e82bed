// The money rules live in the risk engine (libs/risk-engine); re-exported for the router's callers.
export {
  FEE_ACCOUNT,
  feeAccountFor,
  feeFor,
  holdAssetOf,
  holdEntry,
  releaseEntry,
  requiredHold,
  settleEvent,
  tradeEntries,
  type LedgerEntry,
  type OrderMoney,
} from '@trading/risk-engine';
