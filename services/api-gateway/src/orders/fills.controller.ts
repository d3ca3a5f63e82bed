import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { AuthenticatedAccount } from '../auth/api-key-auth.service';
import { ApiKeyGuard } from '../auth/api-key.guard';
import { CurrentAccount } from '../auth/current-account.decorator';
import { SIGNED } from '../common/openapi';
import { OrderQueriesService, type Page } from './order-queries.service';
import type { FillView } from './order.view';

@ApiTags('orders')
@ApiSecurity(SIGNED)
@UseGuards(ApiKeyGuard)
@Controller('v1/fills')
export class FillsController {
  constructor(private readonly queries: OrderQueriesService) {}

  @Get()
  @ApiOperation({ summary: 'Own fills (maker and taker), newest first (query: symbol, limit, cursor)' })
  list(@CurrentAccount() account: AuthenticatedAccount, @Query() query: unknown): Promise<Page<FillView>> {
    return this.queries.fills(account, query);
  }
}
