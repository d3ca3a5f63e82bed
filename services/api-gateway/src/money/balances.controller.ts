import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { AuthenticatedAccount } from '../auth/api-key-auth.service';
import { ApiKeyGuard } from '../auth/api-key.guard';
import { CurrentAccount } from '../auth/current-account.decorator';
import { SIGNED } from '../common/openapi';
import { BalancesService } from './balances.service';
import type { BalanceView, LedgerView } from './money.views';

@ApiTags('money')
@ApiSecurity(SIGNED)
@UseGuards(ApiKeyGuard)
@Controller('v1')
export class BalancesController {
  constructor(private readonly balances: BalancesService) {}

  @Get('balances')
  @ApiOperation({ summary: 'Own balances per asset: available and held, as decimal strings' })
  list(@CurrentAccount() account: AuthenticatedAccount): Promise<{ balances: BalanceView[] }> {
    return this.balances.balances(account);
  }

  @Get('ledger')
  @ApiOperation({ summary: 'Own ledger entries, newest first (query: asset, limit, cursor)' })
  ledger(
    @CurrentAccount() account: AuthenticatedAccount,
    @Query() query: unknown,
  ): Promise<{ data: LedgerView[]; nextCursor: string | null }> {
    return this.balances.ledger(account, query);
  }
}
