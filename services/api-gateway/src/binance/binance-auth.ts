import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  type AuthenticatedAccount,
  ApiKeyAuthService,
  KeyRateLimitedError,
} from '../auth/api-key-auth.service';
import { header } from '../auth/api-key.guard';
import {
  BinanceCode,
  BinanceError,
  type BinanceOperation,
  illegal,
  mandatory,
  toBinanceError,
} from './binance.errors';
import { BinanceParams, queryStringOf, withoutSignature } from './binance-params';

// Binance's request signing (SIGNED endpoints): the API key in X-MBX-APIKEY, and among the
// parameters `timestamp` (ms epoch), an optional `recvWindow` (ms, default 5000, at most 60000)
// and `signature` = hex HMAC-SHA256(secret, totalParams), totalParams being the query string
// followed by the form body, as sent, without the signature parameter. The keys and secrets are
// the platform's own (the same as /v1's X-API-KEY); verification, single-use signatures and the
// per-key rate limit are ApiKeyAuthService's.

export const BINANCE_API_KEY_HEADER = 'x-mbx-apikey';
const DEFAULT_RECV_WINDOW_MS = 5000;
const MAX_RECV_WINDOW_MS = 60_000;
/** Binance accepts a timestamp up to this far ahead of its clock. */
const FUTURE_TOLERANCE_MS = 1000;

/** A request of the Binance dialect, with what the gateway attached to it. */
export type BinanceRequest = FastifyRequest & {
  /** The form body as sent (the form parser keeps it as text). */
  formBody?: string;
  /** A JSON body's text (the JSON parser keeps it): not a Binance request. */
  rawBody?: string;
  account?: AuthenticatedAccount;
  binanceParams?: BinanceParams;
  binanceOp?: BinanceOperation;
};

/** The request's parameters (query string and form body), parsed once. */
export function binanceParamsOf(req: BinanceRequest): BinanceParams {
  if (req.binanceParams) return req.binanceParams;
  if (req.rawBody !== undefined && req.rawBody.trim() !== '')
    throw illegal('body', 'parameters in the query string or an application/x-www-form-urlencoded body');
  req.binanceParams = BinanceParams.of(queryStringOf(req.raw.url ?? req.url), req.formBody ?? '');
  return req.binanceParams;
}

/** What totalParams is: the query string and the form body, as sent, without `signature`. */
export function signedPayload(rawUrl: string, formBody: string): string {
  return withoutSignature(queryStringOf(rawUrl)) + withoutSignature(formBody);
}

/** The receive window of a request: recvWindow (ms, up to 3 decimals), 5000 by default. */
export function recvWindowOf(params: BinanceParams): number {
  const raw = params.optional('recvWindow');
  if (raw === undefined) return DEFAULT_RECV_WINDOW_MS;
  if (!/^[0-9]{1,6}(\.[0-9]{1,3})?$/.test(raw)) throw illegal('recvWindow', '0 < recvWindow <= 60000');
  const ms = Number(raw);
  if (ms <= 0 || ms > MAX_RECV_WINDOW_MS)
    throw new BinanceError(BinanceCode.BAD_RECV_WINDOW, 'recvWindow must be less than 60000');
  return ms;
}

/** Binance's rule: timestamp < server time + 1000 and server time - timestamp <= recvWindow. */
export function timestampWithin(timestamp: number, recvWindow: number, now: number): boolean {
  return timestamp < now + FUTURE_TOLERANCE_MS && now - timestamp <= recvWindow;
}

/**
 * Verifies a signed Binance request and counts it against its key (only once verified). The
 * cheap checks come first: a request without a key, a timestamp or a signature, or outside its
 * receive window, never costs a key lookup.
 */
export async function admitBinance(
  auth: ApiKeyAuthService,
  req: BinanceRequest,
  reply: FastifyReply,
  now = Date.now(),
): Promise<AuthenticatedAccount> {
  const apiKey = header(req, BINANCE_API_KEY_HEADER);
  if (!apiKey) throw new BinanceError(BinanceCode.BAD_API_KEY_FMT, 'API-key format invalid.');
  const params = binanceParamsOf(req);
  const timestamp = params.optional('timestamp');
  if (timestamp === undefined || !/^[0-9]{1,15}$/.test(timestamp)) throw mandatory('timestamp');
  const recvWindow = recvWindowOf(params);
  if (!timestampWithin(Number(timestamp), recvWindow, now))
    throw new BinanceError(
      BinanceCode.INVALID_TIMESTAMP,
      'Timestamp for this request is outside of the recvWindow.',
    );
  const signature = params.optional('signature');
  if (signature === undefined) throw mandatory('signature');
  const payload = signedPayload(req.raw.url ?? req.url, req.formBody ?? '');
  try {
    // The signature stays single-use for as long as its timestamp could pass the window.
    const nonceTtlMs = Math.ceil(recvWindow) + FUTURE_TOLERANCE_MS + 1000;
    const { account, limit, remaining } = await auth.admitCanonical(
      apiKey,
      signature,
      payload,
      nonceTtlMs,
      now,
    );
    void reply.header('x-ratelimit-limit', String(limit)).header('x-ratelimit-remaining', String(remaining));
    return account;
  } catch (err) {
    if (err instanceof KeyRateLimitedError)
      void reply
        .header('x-ratelimit-limit', String(err.limit))
        .header('x-ratelimit-remaining', '0')
        .header('x-ratelimit-scope', 'key');
    throw toBinanceError(err);
  }
}

/** Admits only correctly signed Binance requests; attaches the caller's account. */
@Injectable()
export class BinanceSignedGuard implements CanActivate {
  constructor(private readonly auth: ApiKeyAuthService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const req = http.getRequest<BinanceRequest>();
    req.account = await admitBinance(this.auth, req, http.getResponse<FastifyReply>());
    return true;
  }
}
