import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  ApiAnswer,
  ApiErrors,
  ApiIntegerQuery,
  ApiTextQuery,
  candlesViewSchema,
  depthViewSchema,
  marketViewSchema,
  pageSchema,
  tickerViewSchema,
  tradesViewSchema,
} from '../common/openapi-schemas';
import { MarketDataService, type MarketView } from './market-data.service';
import { candlesLimit, MAX_DEPTH_LEVELS, tradesLimit } from './market-request.schema';

const UNKNOWN_SYMBOL: [number, string] = [
  400,
  'UNKNOWN_SYMBOL (field symbol), or a query parameter named in error.field',
];

@ApiTags('markets')
@Controller('v1/markets')
export class MarketsController {
  constructor(private readonly data: MarketDataService) {}

  @Get()
  @ApiOperation({
    summary: 'Every market with its rules (tick, lot, minimums, fees): { data, nextCursor } (one page: null)',
  })
  @ApiAnswer(200, pageSchema(marketViewSchema), '{ data: markets, nextCursor: null }')
  list(): { data: MarketView[]; nextCursor: null } {
    return { data: this.data.list(), nextCursor: null };
  }

  @Get(':symbol/depth')
  @ApiOperation({
    summary:
      'L2 order book: bids and asks as [price, quantity, orders], up to the DEPTH_LEVELS levels a side the book ' +
      'snapshots carry (20 by default)',
  })
  // The maximum and default are set from DEPTH_LEVELS when the document is built.
  @ApiIntegerQuery('levels', { min: 1, max: MAX_DEPTH_LEVELS, default: 20 }, 'levels a side')
  @ApiAnswer(
    200,
    depthViewSchema,
    '{ symbol, seq, engineSeq, bids, asks, time } (empty sides before any order)',
  )
  @ApiErrors(UNKNOWN_SYMBOL)
  depth(@Param('symbol') symbol: string, @Query() query: unknown) {
    return this.data.publicDepth(symbol, query);
  }

  @Get(':symbol/trades')
  @ApiOperation({ summary: 'Recent public trades, newest first' })
  @ApiIntegerQuery('limit', tradesLimit, 'trades')
  @ApiAnswer(200, tradesViewSchema, '{ symbol, seq, data: trades }')
  @ApiErrors(UNKNOWN_SYMBOL)
  trades(@Param('symbol') symbol: string, @Query() query: unknown) {
    return this.data.trades(symbol, query);
  }

  @Get(':symbol/ticker')
  @ApiOperation({ summary: '24h rolling ticker' })
  @ApiAnswer(200, tickerViewSchema, '{ symbol, seq, data: ticker (null before the first trade) }')
  @ApiErrors(UNKNOWN_SYMBOL)
  ticker(@Param('symbol') symbol: string) {
    return this.data.ticker(symbol);
  }

  @Get(':symbol/candles')
  @ApiOperation({
    summary: 'OHLCV candles of the buckets that had trades: the newest limit in [from, to), oldest first',
  })
  @ApiTextQuery('interval', 'bucket width, default 1m', {
    type: 'string',
    enum: ['1m', '5m', '1h', '1d'],
    default: '1m',
  })
  @ApiTextQuery('from', 'epoch ms or ISO-8601; default: limit buckets before to')
  @ApiTextQuery('to', 'epoch ms or ISO-8601; default: now')
  @ApiIntegerQuery('limit', candlesLimit, 'candles at most')
  @ApiAnswer(200, candlesViewSchema, '{ symbol, interval, data: candles }')
  @ApiErrors(UNKNOWN_SYMBOL)
  candles(@Param('symbol') symbol: string, @Query() query: unknown) {
    return this.data.candles(symbol, query);
  }
}
