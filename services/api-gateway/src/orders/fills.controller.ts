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
  fillViewSchema,
  pageSchema,
} from '../common/openapi-schemas';
import { OrderQueriesService, type Page } from './order-queries.service';
import type { FillView } from './order.view';

@ApiTags('orders')
@ApiSecurity(SIGNED)
@UseGuards(ApiKeyGuard)
@Controller('v1/fills')
export class FillsController {
  constructor(private readonly queries: OrderQueriesService) {}

  @Get()
  @ApiOperation({ summary: 'Own fills (maker and taker), newest first: { data, nextCursor }' })
  @ApiTextQuery('symbol', 'only this market (BASE-QUOTE)')
  @ApiIntegerQuery('limit', { min: 1, max: 500, default: 50 }, 'fills per page')
  @ApiTextQuery('cursor', 'nextCursor of the previous page (anything else is 400 INVALID_CURSOR)')
  @ApiAnswer(200, pageSchema(fillViewSchema), '{ data: fills, nextCursor }')
  list(@CurrentAccount() account: AuthenticatedAccount, @Query() query: unknown): Promise<Page<FillView>> {
    return this.queries.fills(account, query);
  }
}
