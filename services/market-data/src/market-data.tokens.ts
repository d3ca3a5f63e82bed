/** The parsed service configuration. */
export const MARKET_DATA_CONFIG = Symbol('MARKET_DATA_CONFIG');
