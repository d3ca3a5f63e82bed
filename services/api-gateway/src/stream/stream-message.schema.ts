import { z } from 'zod';

/** What a client may send on /v1/stream. */
export const clientMessageSchema = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('subscribe'), channel: z.string().max(64) }),
  z.strictObject({ op: z.literal('unsubscribe'), channel: z.string().max(64) }),
  // A fresh snapshot of a subscribed channel (a client that noticed a gap, or doubts its view).
  z.strictObject({ op: z.literal('resync'), channel: z.string().max(64) }),
  z.strictObject({
    op: z.literal('auth'),
    apiKey: z.string().max(64),
    timestamp: z.union([z.string().max(20), z.number().int().nonnegative()]),
    signature: z.string().max(128),
  }),
  z.strictObject({ op: z.literal('ping') }),
]);
export type ClientMessage = z.infer<typeof clientMessageSchema>;

/** Minimal view of a `ws` socket (the package ships no types here). */
export interface WsClient {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  on(event: 'message', listener: (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => void): this;
  on(event: 'close', listener: () => void): this;
}

export const WS_OPEN = 1;
