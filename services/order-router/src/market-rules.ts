// The router's market checks live in the risk engine (libs/risk-engine); re-exported for the router.
export { checkMarketRules, type RouterRejectReason } from '@trading/risk-engine';
