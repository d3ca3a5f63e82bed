import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { SIGNATURE_HEADERS } from '@trading/contracts';
import {
  ApiKeyAuthService,
  KeyRateLimitedError,
  type AuthenticatedAccount,
  type SignedRequest,
} from './api-key-auth.service';

export type AuthenticatedRequest = FastifyRequest & {
  rawBody?: string;
  account?: AuthenticatedAccount;
};

/** A request header that was sent once (a repeated header is as good as none). */
export function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}

/** What the signature covers, as the client sent it. */
export function signedRequestOf(req: AuthenticatedRequest): SignedRequest {
  return {
    apiKey: header(req, SIGNATURE_HEADERS.apiKey),
    timestamp: header(req, SIGNATURE_HEADERS.timestamp),
    signature: header(req, SIGNATURE_HEADERS.signature),
    method: req.method,
    // The path and query exactly as the client sent them.
    pathWithQuery: req.raw.url ?? req.url,
    body: req.rawBody ?? '',
  };
}

/**
 * Verifies a signed request (ApiKeyAuthService.admit) and puts its key's rate limit in the
 * reply's headers: X-RateLimit-Limit and -Remaining, and on a 429 X-RateLimit-Scope: key.
 */
export async function admitSigned(
  auth: ApiKeyAuthService,
  req: AuthenticatedRequest,
  reply: FastifyReply,
): Promise<AuthenticatedAccount> {
  try {
    const { account, limit, remaining } = await auth.admit(signedRequestOf(req));
    void reply.header('x-ratelimit-limit', String(limit)).header('x-ratelimit-remaining', String(remaining));
    return account;
  } catch (err) {
    if (err instanceof KeyRateLimitedError)
      void reply
        .header('x-ratelimit-limit', String(err.limit))
        .header('x-ratelimit-remaining', '0')
        .header('x-ratelimit-scope', 'key');
    throw err;
  }
}

/** Admits only requests signed with an active API key; attaches the caller's account. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(private readonly auth: ApiKeyAuthService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const req = http.getRequest<AuthenticatedRequest>();
    req.account = await admitSigned(this.auth, req, http.getResponse<FastifyReply>());
    return true;
  }
}
