// Request signing, shared by the gateway, the tests and the load-test scenarios. Contracts import
// nothing (no node:crypto), so this is only the canonical string; callers compute
// hex(HMAC-SHA256(secret, canonicalRequest(...))) with their own crypto.

/** Headers a signed request carries. */
export const SIGNATURE_HEADERS = {
  apiKey: 'x-api-key',
  timestamp: 'x-api-timestamp',
  signature: 'x-api-signature',
} as const;

/** The path a WebSocket `auth` message signs (method GET, empty body). */
export const STREAM_PATH = '/v1/stream';

/**
 * The string a request signature covers: timestamp (ms epoch, as sent), upper-case method, the
 * path with its query string exactly as sent, and the raw body ('' when there is none).
 */
export function canonicalRequest(
  timestamp: string | number,
  method: string,
  pathWithQuery: string,
  body: string,
): string {
  return `${String(timestamp)}${method.toUpperCase()}${pathWithQuery}${body}`;
}
