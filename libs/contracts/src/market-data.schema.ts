import { z } from 'zod';
import { nonNegativeInt, positiveInt, sideSchema, symbolSchema } from './common.schema';

// What market-data keeps in Redis and publishes for the gateway's WebSocket fan-out. Prices and
// quantities here are decimal strings for clients; `seq` is per channel and gap-free.
export const publicTradeSchema = z.object({
  symbol: symbolSchema,
  tradeId: z.string(),
  seq: positiveInt,
  price: z.string(),
  qty: z.string(),
  takerSide: sideSchema,
  time: nonNegativeInt,
});
export type PublicTrade = z.infer<typeof publicTradeSchema>;

export const depthSnapshotSchema = z.object({
  symbol: symbolSchema,
  /** Engine seq the book reflects. */
  engineSeq: positiveInt,
  bids: z.array(z.tuple([z.string(), z.string(), nonNegativeInt])),
  asks: z.array(z.tuple([z.string(), z.string(), nonNegativeInt])),
  time: nonNegativeInt,
});
export type DepthSnapshot = z.infer<typeof depthSnapshotSchema>;

export const tickerSchema = z.object({
  symbol: symbolSchema,
  last: z.string().nullable(),
  open: z.string().nullable(),
  high: z.string().nullable(),
  low: z.string().nullable(),
  volume: z.string(),
  quoteVolume: z.string(),
  trades: nonNegativeInt,
  bestBid: z.string().nullable(),
  bestAsk: z.string().nullable(),
  time: nonNegativeInt,
});
export type Ticker = z.infer<typeof tickerSchema>;

/** Envelope on a Redis pub/sub channel: `channel` is e.g. `trades:BTC-USDT`, `seq` gap-free. */
export const streamMessageSchema = z.object({ channel: z.string(), seq: positiveInt, data: z.unknown() });
export type StreamMessage = z.infer<typeof streamMessageSchema>;

/** Redis keys and channels, in one place. */
export const redisKeys = {
  depth: (symbol: string) => `md:depth:${symbol}`,
  ticker: (symbol: string) => `md:ticker:${symbol}`,
  trades: (symbol: string) => `md:trades:${symbol}`,
  channelSeq: (channel: string) => `md:seq:${channel}`,
  /** Pub/sub channel carrying StreamMessage JSON. */
  pubsub: (channel: string) => `stream:${channel}`,
  orderChannel: (accountId: string) => `orders:${accountId}`,
  /**
   * The gateway's record of an order it accepted (JSON {accountId, symbol, orderType,
   * clientOrderId}, TTL 600 s): cancels are answered from it; the router deletes it once the
   * order is final.
   */
  acceptedOrder: (orderId: string) => `accepted:${orderId}`,
};
