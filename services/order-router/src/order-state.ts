// The order lifecycle lives in the risk engine (libs/risk-engine); re-exported for the router.
export { applyOrderEvent, isFinal } from '@trading/risk-engine';
