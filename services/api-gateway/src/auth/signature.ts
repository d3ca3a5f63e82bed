import { createHmac, type KeyObject, randomBytes, timingSafeEqual } from 'node:crypto';
import { canonicalRequest } from '@trading/contracts';

/** hex(HMAC-SHA256(secret, canonicalRequest(timestamp, method, path, body))). */
export function signRequest(
  secret: string,
  timestamp: string | number,
  method: string,
  pathWithQuery: string,
  body: string,
): string {
  return createHmac('sha256', secret)
    .update(canonicalRequest(timestamp, method, pathWithQuery, body))
    .digest('hex');
}

/**
 * Constant-time check of a hex signature; false for anything that is not 64 hex characters. The
 * secret may be a KeyObject made once (createSecretKey) instead of the string per request.
 */
export function signatureMatches(
  secret: string | KeyObject,
  canonical: string,
  signatureHex: string,
): boolean {
  if (!/^[0-9a-fA-F]{64}$/.test(signatureHex)) return false;
  const expected = createHmac('sha256', secret).update(canonical).digest();
  return timingSafeEqual(expected, Buffer.from(signatureHex, 'hex'));
}

/** True when the header is a ms epoch within `windowMs` of `now` (either side). */
export function timestampFresh(header: string, now: number, windowMs: number): boolean {
  if (!/^[0-9]{1,15}$/.test(header)) return false;
  return Math.abs(now - Number(header)) <= windowMs;
}

/** A new key id and secret (the secret is shown once, then only stored encrypted). */
export function newApiKey(): { keyId: string; secret: string } {
  return { keyId: `ak_${randomBytes(12).toString('hex')}`, secret: randomBytes(32).toString('hex') };
}
