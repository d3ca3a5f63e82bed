import { ErrorCode, GatewayException } from '../errors/gateway.exception';
import { hasControlCharacter } from './edge-input';

// Opaque to clients: base64url of a JSON array of strings (the keyset of the last row returned).

const MAX_CURSOR_LENGTH = 512;

export function encodeCursor(parts: readonly string[]): string {
  return Buffer.from(JSON.stringify(parts), 'utf8').toString('base64url');
}

/** Decodes a cursor of exactly `length` strings; anything else is 400 INVALID_CURSOR. */
export function decodeCursor(cursor: string, length: number): string[] {
  let parsed: unknown = null;
  if (cursor.length <= MAX_CURSOR_LENGTH)
    try {
      parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    } catch {
      parsed = null;
    }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== length ||
    !parsed.every((p) => typeof p === 'string' && p.length <= 128 && !hasControlCharacter(p))
  ) {
    throw new GatewayException(ErrorCode.INVALID_CURSOR, 'cursor is not one this API returned', 'cursor');
  }
  return parsed as string[];
}
