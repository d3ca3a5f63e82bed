import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Patch,
  Post,
  Query,
  UseGuards,
} from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { AuthenticatedAccount } from '../auth/api-key-auth.service';
import { ApiKeyGuard } from '../auth/api-key.guard';
import { CurrentAccount } from '../auth/current-account.decorator';
import { ERROR_SCHEMA, jsonSchema, SIGNED } from '../common/openapi';
import { amendOrderRequestSchema, placeOrderRequestSchema } from './order-request.schema';
import { OrderQueriesService, type Page } from './order-queries.service';
import type { OrderView } from './order.view';
import { OrdersService, type OrderAck } from './orders.service';

@ApiTags('orders')
@ApiSecurity(SIGNED)
@ApiResponse({
  status: 401,
  description: 'Missing, unknown or revoked key; stale timestamp; bad signature',
  schema: ERROR_SCHEMA,
})
@ApiResponse({
  status: 503,
  description: 'A dependency is down; retry after Retry-After seconds',
  schema: ERROR_SCHEMA,
})
@UseGuards(ApiKeyGuard)
@Controller('v1/orders')
export class OrdersController {
  constructor(
    private readonly orders: OrdersService,
    private readonly queries: OrderQueriesService,
  ) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({ summary: 'Place an order; 202 once Kafka acknowledged the command' })
  @ApiBody({ schema: jsonSchema(placeOrderRequestSchema) })
  @ApiResponse({ status: 202, description: '{ orderId, clientOrderId, status: "pending" }' })
  @ApiResponse({ status: 400, description: 'Invalid field (named in error.field)', schema: ERROR_SCHEMA })
  place(@CurrentAccount() account: AuthenticatedAccount, @Body() body: unknown): Promise<OrderAck> {
    return this.orders.place(account, body);
  }

  @Delete(':id')
  @HttpCode(202)
  @ApiOperation({ summary: 'Request the cancellation of an own open order' })
  @ApiResponse({ status: 202, description: '{ orderId, clientOrderId, status: "cancel_requested" }' })
  @ApiResponse({ status: 404, description: 'No such order of this account', schema: ERROR_SCHEMA })
  @ApiResponse({
    status: 409,
    description: 'ORDER_NOT_OPEN: the order is known to be final (filled, cancelled, rejected, expired)',
    schema: ERROR_SCHEMA,
  })
  cancel(@CurrentAccount() account: AuthenticatedAccount, @Param('id') id: string): Promise<OrderAck> {
    return this.orders.cancel(account, id);
  }

  @Patch(':id')
  @HttpCode(202)
  @ApiOperation({ summary: 'Amend price and/or quantity of an own open order' })
  @ApiBody({ schema: jsonSchema(amendOrderRequestSchema) })
  amend(
    @CurrentAccount() account: AuthenticatedAccount,
    @Param('id') id: string,
    @Body() body: unknown,
  ): Promise<OrderAck> {
    return this.orders.amend(account, id, body);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One own order' })
  get(@CurrentAccount() account: AuthenticatedAccount, @Param('id') id: string): Promise<OrderView> {
    return this.queries.get(account, id);
  }

  @Get()
  @ApiOperation({ summary: 'Own orders, newest first (query: symbol, status, limit 1..500, cursor)' })
  list(@CurrentAccount() account: AuthenticatedAccount, @Query() query: unknown): Promise<Page<OrderView>> {
    return this.queries.list(account, query);
  }
}
