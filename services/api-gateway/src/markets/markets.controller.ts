import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { MarketDataService, type MarketView } from './market-data.service';

@ApiTags('markets')
@Controller('v1/markets')
export class MarketsController {
  constructor(private readonly data: MarketDataService) {}

  @Get()
  @ApiOperation({ summary: 'Every market with its rules (tick, lot, minimums, fees)' })
  list(): MarketView[] {
    return this.data.list();
  }

  @Get(':symbol/depth')
  @ApiOperation({ summary: 'L2 order book (levels 1..100, default 20): [price, quantity, orders]' })
  depth(@Param('symbol') symbol: string, @Query() query: unknown) {
    return this.data.depth(symbol, query);
  }

  @Get(':symbol/trades')
  @ApiOperation({ summary: 'Recent public trades, newest first (limit 1..500)' })
  trades(@Param('symbol') symbol: string, @Query() query: unknown) {
    return this.data.trades(symbol, query);
  }

  @Get(':symbol/ticker')
  @ApiOperation({ summary: '24h ticker' })
  ticker(@Param('symbol') symbol: string) {
    return this.data.ticker(symbol);
  }

  @Get(':symbol/candles')
  @ApiOperation({ summary: 'OHLCV candles (interval 1m|5m|1h|1d, from/to as epoch ms or ISO-8601)' })
  candles(@Param('symbol') symbol: string, @Query() query: unknown) {
    return this.data.candles(symbol, query);
  }
}
