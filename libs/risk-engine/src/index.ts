export * from './risk.types';
export { AccountBook, NegativeBalanceError, type Balance } from './account-book';
export { checkMarketRules } from './market-rules';
export {
  amendsHold,
  FEE_ACCOUNT,
  feeAccountFor,
  feeFor,
  holdAssetOf,
  holdEntry,
  releaseEntry,
  requiredHold,
  settleEvent,
  tradeEntries,
  type OrderMoney,
} from './money';
export { applyOrderEvent, isFinal } from './order-state';
export {
  AccountNotLoadedError,
  isSameMoneyMovement,
  MarketNotLoadedError,
  moneyLedgerKey,
  orderStreamOf,
  RiskEngine,
  stateOfNew,
} from './risk-engine';
export {
  AccountSequencer,
  streamStep,
  type AccountEvent,
  type AccountStreamData,
  type BalanceStreamUpdate,
} from './account-stream';
