import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { AuthenticatedAccount } from '../auth/api-key-auth.service';
import { ApiKeyGuard } from '../auth/api-key.guard';
import { CurrentAccount } from '../auth/current-account.decorator';
import { SIGNED } from '../common/openapi';
import {
  ApiAnswer,
  ApiIntegerQuery,
  ApiTextQuery,
  balanceViewSchema,
  ledgerViewSchema,
  pageSchema,
} from '../common/openapi-schemas';
import { BalancesService } from './balances.service';
import type { BalanceView, LedgerView } from './money.views';

@ApiTags('money')
@ApiSecurity(SIGNED)
@UseGuards(ApiKeyGuard)
@Controller('v1')
export class BalancesController {
  constructor(private readonly balances: BalancesService) {}

  @Get('balances')
  @ApiOperation({
    summary:
      'Own balances per asset, available and held as decimal strings: { data, nextCursor } (one page: null)',
  })
  @ApiAnswer(200, pageSchema(balanceViewSchema), '{ data: balances by asset, nextCursor: null }')
  async list(
    @CurrentAccount() account: AuthenticatedAccount,
  ): Promise<{ data: BalanceView[]; nextCursor: null }> {
    return { data: (await this.balances.balances(account)).balances, nextCursor: null };
  }

  @Get('ledger')
  @ApiOperation({ summary: 'Own ledger entries, newest first: { data, nextCursor }' })
  @ApiTextQuery('asset', 'only this asset', { type: 'string', pattern: '^[A-Z0-9]{2,12}$' })
  @ApiIntegerQuery('limit', { min: 1, max: 500, default: 100 }, 'entries per page')
  @ApiTextQuery('cursor', 'nextCursor of the previous page (anything else is 400 INVALID_CURSOR)')
  @ApiAnswer(200, pageSchema(ledgerViewSchema), '{ data: ledger entries, nextCursor }')
  ledger(
    @CurrentAccount() account: AuthenticatedAccount,
    @Query() query: unknown,
  ): Promise<{ data: LedgerView[]; nextCursor: string | null }> {
    return this.balances.ledger(account, query);
  }
}
