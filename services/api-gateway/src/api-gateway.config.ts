import { isIP } from 'node:net';
import { z } from 'zod';
import { baseSchema, kafkaSchema, databaseSchema, redisSchema } from '@trading/config';

const positiveInt = z.coerce.number().int().positive();

// 32 bytes as 64 hex characters or base64 (44 characters with padding).
const encryptionKey = z
  .string()
  .refine(
    (v) =>
      /^[0-9a-fA-F]{64}$/.test(v) ||
      (/^[A-Za-z0-9+/]{43}=?$/.test(v) && Buffer.from(v, 'base64').length === 32),
    'must be 32 bytes as 64 hex characters or base64',
  );

/** An address, a CIDR range, or one of proxy-addr's names (loopback, linklocal, uniquelocal). */
export function isProxyAddress(entry: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true;
  const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(entry);
  if (!m) return false;
  const family = isIP(m[1]);
  if (family === 0) return false;
  return m[2] === undefined || Number(m[2]) <= (family === 4 ? 32 : 128);
}

// Comma-separated, blanks ignored; every entry must be an address or a range.
const proxyList = z
  .string()
  .default('')
  .transform((v) =>
    v
      .split(',')
      .map((e) => e.trim())
      .filter((e) => e !== ''),
  )
  .refine(
    (list) => list.every(isProxyAddress),
    'must be comma-separated IP addresses or CIDR ranges (e.g. 10.0.0.0/8,127.0.0.1)',
  );

// Parsed once at boot; every key may also come from KEY_FILE (Swarm secrets).
export const ApiGatewayConfigSchema = baseSchema
  .extend(kafkaSchema.shape)
  .extend(databaseSchema.shape)
  .extend(redisSchema.shape)
  .extend({
    /** Platform key encrypting API secrets at rest (AES-256-GCM); usually API_KEY_ENCRYPTION_KEY_FILE. */
    API_KEY_ENCRYPTION_KEY: encryptionKey,
    /** How far a request's X-API-TIMESTAMP may be from the gateway's clock. */
    SIGNATURE_WINDOW_MS: positiveInt.default(5000),
    /** How long a decrypted API secret stays in memory (revocation takes effect within this). */
    API_KEY_CACHE_TTL_MS: positiveInt.default(30_000),
    /** Largest request body; larger is refused with 413. */
    BODY_LIMIT_BYTES: positiveInt.default(64 * 1024),
    /** Longest wait for Kafka's acknowledgement of a command before answering 503. */
    ORDER_ACK_TIMEOUT_MS: positiveInt.default(5000),
    /**
     * How long a Binance-dialect placement answered RESULT or FULL (and a Binance cancel) waits for
     * the matching outcome before answering that it is not known yet (PENDING_NEW / PENDING_CANCEL).
     */
    ORDER_RESULT_WAIT_MS: positiveInt.default(5000),
    /** Operator API credential (X-Operator-Token); without it the operator API is off. */
    OPERATOR_TOKEN: z.string().min(32, 'must be at least 32 characters').optional(),
    /** Requests per second one API key may make (429 beyond, Redis fixed window). */
    RATE_LIMIT_PER_KEY: positiveInt.default(1000),
    /** Requests per second one client IP may make. */
    RATE_LIMIT_PER_IP: positiveInt.default(20_000),
    /** Requests in progress beyond which new ones are shed with 503 instead of queueing. */
    MAX_IN_FLIGHT: positiveInt.default(4096),
    /**
     * Proxies in front of the gateway whose X-Forwarded-For is believed (the client address of
     * rate limits and request lines); empty: none, the socket's address is the client's.
     */
    TRUSTED_PROXIES: proxyList,
    /** WebSocket subscriptions one connection may hold. */
    WS_MAX_SUBSCRIPTIONS: positiveInt.default(50),
    /**
     * Levels a side the depth snapshots carry: the matching-worker's DEPTH_LEVELS (same name, same
     * default), so `GET /v1/markets/:symbol/depth?levels=` accepts 1..DEPTH_LEVELS, what exists.
     */
    DEPTH_LEVELS: z.coerce.number().int().min(1).max(100).default(20),
  });
export type ApiGatewayConfig = z.infer<typeof ApiGatewayConfigSchema>;

/** Decodes the platform key (hex or base64) into its 32 bytes. */
export function decodeEncryptionKey(value: string): Buffer {
  return /^[0-9a-fA-F]{64}$/.test(value) ? Buffer.from(value, 'hex') : Buffer.from(value, 'base64');
}

/** Injection token of the parsed configuration. */
export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');
