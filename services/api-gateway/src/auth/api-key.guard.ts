import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { SIGNATURE_HEADERS } from '@trading/contracts';
import { ApiKeyAuthService, type AuthenticatedAccount, type SignedRequest } from './api-key-auth.service';

export type AuthenticatedRequest = FastifyRequest & {
  rawBody?: string;
  account?: AuthenticatedAccount;
  /** Set at admission when the signature's nonce was claimed there (installOverloadProtection). */
  nonce?: 'fresh' | 'replayed';
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
    nonce: req.nonce,
  };
}

/** Admits only requests signed with an active API key; attaches the caller's account. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(private readonly auth: ApiKeyAuthService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    req.account = await this.auth.authenticate(signedRequestOf(req));
    return true;
  }
}
