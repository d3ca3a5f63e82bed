// The market rules live in @trading/contracts, shared with the gateway; the router checks them
// again (defence in depth: a command that reached Kafka from anywhere else, or a market halted
// since the gateway looked, is refused here).
export { checkMarketRules } from '@trading/contracts';
