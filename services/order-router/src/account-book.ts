// The partition's balances live in the risk engine (libs/risk-engine); re-exported for the router.
export { AccountBook, NegativeBalanceError, type Balance } from '@trading/risk-engine';
