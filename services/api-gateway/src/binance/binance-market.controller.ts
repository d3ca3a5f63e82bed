import { Controller, Get, Req, UseFilters } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { BinanceExceptionFilter } from './binance.errors';
import { BinanceMarketService } from './binance-market.service';
import { BinanceParams, queryStringOf } from './binance-params';

const paramsOf = (req: FastifyRequest): BinanceParams =>
  BinanceParams.of(queryStringOf(req.raw.url ?? req.url), '');

/** Binance spot's public REST endpoints (GET /api/v3/...), over the platform's market data. */
@ApiTags('binance')
@UseFilters(BinanceExceptionFilter)
@Controller('api/v3')
export class BinanceMarketController {
  constructor(private readonly markets: BinanceMarketService) {}

  @Get('ping')
  @ApiOperation({ summary: 'Binance: connectivity test, {}' })
  ping(@Req() req: FastifyRequest): Record<string, never> {
    paramsOf(req).finish();
    return {};
  }

  @Get('time')
  @ApiOperation({ summary: 'Binance: {serverTime} (ms epoch)' })
  time(@Req() req: FastifyRequest): { serverTime: number } {
    paramsOf(req).finish();
    return { serverTime: Date.now() };
  }

  @Get('exchangeInfo')
  @ApiOperation({
    summary: 'Binance: markets as symbols (BTCUSDT) with PRICE_FILTER, LOT_SIZE, MIN_NOTIONAL',
  })
  exchangeInfo(@Req() req: FastifyRequest) {
    return this.markets.exchangeInfo(paramsOf(req));
  }

  @Get('depth')
  @ApiOperation({ summary: 'Binance: order book (symbol, limit; at most 100 levels a side)' })
  depth(@Req() req: FastifyRequest) {
    return this.markets.depth(paramsOf(req));
  }

  @Get('trades')
  @ApiOperation({ summary: 'Binance: recent trades, oldest first (symbol, limit 1..1000)' })
  trades(@Req() req: FastifyRequest) {
    return this.markets.recentTrades(paramsOf(req));
  }

  @Get('aggTrades')
  @ApiOperation({
    summary: 'Binance: trades as aggregates of one (symbol, fromId, startTime, endTime, limit)',
  })
  aggTrades(@Req() req: FastifyRequest) {
    return this.markets.aggTrades(paramsOf(req));
  }

  @Get('klines')
  @ApiOperation({ summary: 'Binance: candles (symbol, interval 1m|5m|1h|1d, startTime, endTime, limit)' })
  klines(@Req() req: FastifyRequest) {
    return this.markets.klines(paramsOf(req));
  }

  @Get('ticker/24hr')
  @ApiOperation({ summary: 'Binance: 24 h rolling ticker (symbol or symbols or all; type FULL|MINI)' })
  ticker24h(@Req() req: FastifyRequest) {
    return this.markets.ticker24h(paramsOf(req));
  }

  @Get('ticker/price')
  @ApiOperation({ summary: 'Binance: last price (symbol or symbols or all)' })
  tickerPrice(@Req() req: FastifyRequest) {
    return this.markets.tickerPrice(paramsOf(req));
  }

  @Get('ticker/bookTicker')
  @ApiOperation({ summary: 'Binance: best bid and ask (symbol or symbols or all)' })
  bookTicker(@Req() req: FastifyRequest) {
    return this.markets.bookTicker(paramsOf(req));
  }
}
