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
import { ApiBody, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ORDER_STATUSES } from '@trading/contracts';
import type { AuthenticatedAccount } from '../auth/api-key-auth.service';
import { ApiKeyGuard } from '../auth/api-key.guard';
import { CurrentAccount } from '../auth/current-account.decorator';
import { jsonSchema, SIGNED } from '../common/openapi';
import {
  ApiAnswer,
  ApiErrors,
  ApiIntegerQuery,
  ApiTextQuery,
  orderAckSchema,
  orderViewSchema,
  pageSchema,
} from '../common/openapi-schemas';
import { amendOrderRequestSchema, placeOrderRequestSchema } from './order-request.schema';
import { OrderQueriesService, type Page } from './order-queries.service';
import type { OrderView } from './order.view';
import { OrdersService, type OrderAck } from './orders.service';

const NOT_FOUND: [number, string] = [
  404,
  'ORDER_NOT_FOUND: no such order of this account (another account’s alike)',
];
const NOT_OPEN: [number, string] = [
  409,
  'ORDER_NOT_OPEN: the order is known to be final (filled, cancelled, rejected, expired); MARKET_HALTED',
];

@ApiTags('orders')
@ApiSecurity(SIGNED)
@UseGuards(ApiKeyGuard)
@Controller('v1/orders')
export class OrdersController {
  constructor(
    private readonly orders: OrdersService,
    private readonly queries: OrderQueriesService,
  ) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Place an order; 202 once Kafka acknowledged the command. The outcome (new, filled, rejected with a ' +
      'reason, ...) comes on the orders channel and from GET /v1/orders/{id}. The same clientOrderId with ' +
      'the same body is the same order (a safe retry); with another body 409 IDEMPOTENCY_KEY_REUSED',
  })
  @ApiBody({ schema: jsonSchema(placeOrderRequestSchema) })
  @ApiAnswer(202, orderAckSchema, 'Accepted: { orderId, clientOrderId, status: "pending" }')
  @ApiErrors(
    [
      400,
      'The field named in error.field: VALIDATION_FAILED, UNKNOWN_SYMBOL, INVALID_PRICE, PRICE_OFF_TICK, ' +
        'INVALID_QUANTITY, BELOW_MIN_QTY, BELOW_MIN_NOTIONAL, INVALID_STOP_PRICE, INVALID_DISPLAY_QTY, ' +
        'INVALID_PROTECTION_PRICE, INVALID_QUOTE_BUDGET, INVALID_ORDER_OPTIONS, MARKET_BUY_UNBOUNDED (a market or ' +
        'stop-market buy with neither protectionPrice nor quoteBudget, field protectionPrice)',
    ],
    [
      409,
      'IDEMPOTENCY_KEY_REUSED (field clientOrderId): the clientOrderId names another order body; MARKET_HALTED',
    ],
  )
  place(@CurrentAccount() account: AuthenticatedAccount, @Body() body: unknown): Promise<OrderAck> {
    return this.orders.place(account, body);
  }

  @Delete(':id')
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Request the cancellation of an own open order, also right after its placement’s 202; the outcome comes ' +
      'on the orders channel',
  })
  @ApiAnswer(202, orderAckSchema, 'Sent: { orderId, clientOrderId, status: "cancel_requested" }')
  @ApiErrors(NOT_FOUND, NOT_OPEN)
  cancel(@CurrentAccount() account: AuthenticatedAccount, @Param('id') id: string): Promise<OrderAck> {
    return this.orders.cancel(account, id);
  }

  @Patch(':id')
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Amend price and/or quantity of an own open order (a smaller quantity keeps its priority); the outcome ' +
      'comes on the orders channel',
  })
  @ApiBody({ schema: jsonSchema(amendOrderRequestSchema) })
  @ApiAnswer(202, orderAckSchema, 'Sent: { orderId, clientOrderId, status: "amend_requested" }')
  @ApiErrors(NOT_FOUND, NOT_OPEN)
  amend(
    @CurrentAccount() account: AuthenticatedAccount,
    @Param('id') id: string,
    @Body() body: unknown,
  ): Promise<OrderAck> {
    return this.orders.amend(account, id, body);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One own order' })
  @ApiAnswer(200, orderViewSchema, 'The order, decimals as strings')
  @ApiErrors(NOT_FOUND)
  get(@CurrentAccount() account: AuthenticatedAccount, @Param('id') id: string): Promise<OrderView> {
    return this.queries.get(account, id);
  }

  @Get()
  @ApiOperation({ summary: 'Own orders, newest first: { data, nextCursor }' })
  @ApiTextQuery('symbol', 'only this market (BASE-QUOTE)')
  @ApiTextQuery('status', 'only orders in this status', { type: 'string', enum: [...ORDER_STATUSES] })
  @ApiIntegerQuery('limit', { min: 1, max: 500, default: 50 }, 'orders per page')
  @ApiTextQuery('cursor', 'nextCursor of the previous page (anything else is 400 INVALID_CURSOR)')
  @ApiAnswer(200, pageSchema(orderViewSchema), '{ data: orders, nextCursor }')
  list(@CurrentAccount() account: AuthenticatedAccount, @Query() query: unknown): Promise<Page<OrderView>> {
    return this.queries.list(account, query);
  }
}
