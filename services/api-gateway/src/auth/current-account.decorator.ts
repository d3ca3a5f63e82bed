import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { AuthenticatedAccount } from './api-key-auth.service';
import type { AuthenticatedRequest } from './api-key.guard';

/** The account ApiKeyGuard authenticated. */
export const CurrentAccount = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): AuthenticatedAccount => {
    const account = ctx.switchToHttp().getRequest<AuthenticatedRequest>().account;
    if (!account) throw new Error('CurrentAccount used on a route without ApiKeyGuard');
    return account;
  },
);
