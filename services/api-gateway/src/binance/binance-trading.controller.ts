import { Controller, Delete, Get, HttpCode, Post, Req, UseFilters, UseGuards } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { AuthenticatedAccount } from '../auth/api-key-auth.service';
import { BINANCE_SIGNED } from '../common/openapi';
import { BinanceExceptionFilter } from './binance.errors';
import { type BinanceRequest, binanceParamsOf, BinanceSignedGuard } from './binance-auth';
import { BinanceTradingService } from './binance-trading.service';

const accountOf = (req: BinanceRequest): AuthenticatedAccount => {
  if (!req.account) throw new Error('a Binance signed route without BinanceSignedGuard');
  return req.account;
};

/**
 * Binance spot's signed REST endpoints (X-MBX-APIKEY; timestamp, recvWindow and signature among
 * the parameters), over the platform's order pipeline, accounts and API keys.
 */
@ApiTags('binance')
@ApiSecurity(BINANCE_SIGNED)
@UseGuards(BinanceSignedGuard)
@UseFilters(BinanceExceptionFilter)
@Controller('api/v3')
export class BinanceTradingController {
  constructor(private readonly trading: BinanceTradingService) {}

  @Post('order')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Binance: new order (LIMIT GTC|IOC|FOK, LIMIT_MAKER, MARKET by quantity or quoteOrderQty, STOP_LOSS_LIMIT; icebergQty, selfTradePreventionMode, newClientOrderId, newOrderRespType ACK|RESULT|FULL)',
  })
  newOrder(@Req() req: BinanceRequest) {
    return this.trading.newOrder(accountOf(req), binanceParamsOf(req));
  }

  @Delete('order')
  @ApiOperation({ summary: 'Binance: cancel an order (symbol; orderId or origClientOrderId)' })
  cancelOrder(@Req() req: BinanceRequest) {
    return this.trading.cancelOrder(accountOf(req), binanceParamsOf(req));
  }

  @Get('order')
  @ApiOperation({ summary: 'Binance: one order (symbol; orderId or origClientOrderId)' })
  queryOrder(@Req() req: BinanceRequest) {
    return this.trading.queryOrder(accountOf(req), binanceParamsOf(req));
  }

  @Get('openOrders')
  @ApiOperation({ summary: 'Binance: open orders (symbol, or all)' })
  openOrders(@Req() req: BinanceRequest) {
    return this.trading.openOrders(accountOf(req), binanceParamsOf(req));
  }

  @Delete('openOrders')
  @ApiOperation({ summary: 'Binance: cancel every open order of a symbol' })
  cancelOpenOrders(@Req() req: BinanceRequest) {
    return this.trading.cancelOpenOrders(accountOf(req), binanceParamsOf(req));
  }

  @Get('allOrders')
  @ApiOperation({ summary: 'Binance: orders of a symbol, oldest first (orderId, startTime, endTime, limit)' })
  allOrders(@Req() req: BinanceRequest) {
    return this.trading.allOrders(accountOf(req), binanceParamsOf(req));
  }

  @Get('myTrades')
  @ApiOperation({
    summary: 'Binance: own fills of a symbol with commission (orderId, startTime, endTime, fromId, limit)',
  })
  myTrades(@Req() req: BinanceRequest) {
    return this.trading.myTrades(accountOf(req), binanceParamsOf(req));
  }

  @Get('account')
  @ApiOperation({ summary: 'Binance: balances as free and locked (omitZeroBalances)' })
  account(@Req() req: BinanceRequest) {
    return this.trading.account(accountOf(req), binanceParamsOf(req));
  }

  @Get('account/commission')
  @ApiOperation({ summary: "Binance: a symbol's maker and taker fee rates" })
  commission(@Req() req: BinanceRequest) {
    return this.trading.commission(binanceParamsOf(req));
  }
}
