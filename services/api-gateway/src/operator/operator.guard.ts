import { createHash, timingSafeEqual } from 'node:crypto';
import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { type ApiGatewayConfig, GATEWAY_CONFIG } from '../api-gateway.config';
import { ErrorCode, GatewayException } from '../errors/gateway.exception';

export const OPERATOR_HEADER = 'x-operator-token';

// Digests first, so the comparison is constant-time whatever the lengths.
const digest = (v: string): Buffer => createHash('sha256').update(v).digest();

/** Admits operator calls carrying the operator token (a separate credential from API keys). */
@Injectable()
export class OperatorGuard implements CanActivate {
  private readonly expected: Buffer | null;

  constructor(@Inject(GATEWAY_CONFIG) config: ApiGatewayConfig) {
    this.expected = config.OPERATOR_TOKEN ? digest(config.OPERATOR_TOKEN) : null;
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.expected)
      throw new GatewayException(
        ErrorCode.UNAUTHENTICATED,
        'the operator API is disabled (no OPERATOR_TOKEN configured)',
      );
    const token = context.switchToHttp().getRequest<FastifyRequest>().headers[OPERATOR_HEADER];
    if (typeof token !== 'string' || !timingSafeEqual(digest(token), this.expected)) {
      throw new GatewayException(ErrorCode.UNAUTHENTICATED, 'missing or wrong operator token');
    }
    return true;
  }
}
