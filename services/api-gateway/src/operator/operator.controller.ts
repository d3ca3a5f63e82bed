import { Body, Controller, Delete, HttpCode, Param, Patch, Post, Put, UseGuards } from '@nestjs/common';
import { ApiBody, ApiHeader, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { jsonSchema } from '../common/openapi';
import {
  ApiAnswer,
  ApiErrors,
  feesViewSchema,
  issuedKeySchema,
  marketViewSchema,
  moneyAckSchema,
} from '../common/openapi-schemas';
import type { MarketView } from '../markets/market-data.service';
import { createMarketSchema, patchMarketSchema } from './operator-markets';
import { OPERATOR_HEADER, OperatorGuard } from './operator.guard';
import {
  accountSchema,
  feesSchema,
  moneySchema,
  OperatorService,
  type IssuedAccountKey,
} from './operator.service';

const MONEY_ERRORS: [number, string][] = [
  [400, 'VALIDATION_FAILED naming the field (also an unknown accountId or asset)'],
  [409, 'IDEMPOTENCY_KEY_REUSED (field commandId): the commandId names another movement; nothing changes'],
];

@ApiTags('operator')
@ApiHeader({ name: OPERATOR_HEADER, required: true, description: 'Operator credential (not an API key)' })
@UseGuards(OperatorGuard)
@Controller('v1/operator')
export class OperatorController {
  constructor(private readonly operator: OperatorService) {}

  @Post('deposits')
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Credit an account: {accountId, asset, amount (decimal string), commandId?}; applied by the order-router ' +
      '(the result shows in /v1/balances and on the orders channel). The same commandId and body: the same ' +
      'answer, nothing twice; another body: 409 IDEMPOTENCY_KEY_REUSED',
  })
  @ApiBody({ schema: jsonSchema(moneySchema) })
  @ApiAnswer(202, moneyAckSchema, 'Sent: { commandId, status: "accepted" }')
  @ApiErrors(...MONEY_ERRORS)
  deposit(@Body() body: unknown): Promise<{ commandId: string; status: 'accepted' }> {
    return this.operator.move('deposit', body);
  }

  @Post('withdrawals')
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Debit an account; refused by the router when it exceeds available (on the orders channel). A reused ' +
      'commandId with another body: 409 IDEMPOTENCY_KEY_REUSED',
  })
  @ApiBody({ schema: jsonSchema(moneySchema) })
  @ApiAnswer(202, moneyAckSchema, 'Sent: { commandId, status: "accepted" }')
  @ApiErrors(...MONEY_ERRORS)
  withdraw(@Body() body: unknown): Promise<{ commandId: string; status: 'accepted' }> {
    return this.operator.move('withdraw', body);
  }

  @Post('accounts')
  @HttpCode(201)
  @ApiOperation({
    summary:
      'Create an account and its first API key (the secret is shown once); 409 ACCOUNT_EXISTS (field ' +
      'accountId) for an existing account, which gets no key: use POST accounts/{accountId}/api-keys',
  })
  @ApiBody({ schema: jsonSchema(accountSchema) })
  @ApiAnswer(201, issuedKeySchema, 'Created: { accountId, apiKey, secret } (the secret is shown once)')
  @ApiErrors([409, 'ACCOUNT_EXISTS (field accountId): no key is issued'])
  createAccount(@Body() body: unknown): Promise<IssuedAccountKey> {
    return this.operator.createAccount(body);
  }

  @Post('accounts/:accountId/api-keys')
  @HttpCode(201)
  @ApiOperation({
    summary: 'Issue another API key of an existing account (secret shown once); 404 ACCOUNT_NOT_FOUND',
  })
  @ApiAnswer(201, issuedKeySchema, 'Created: { accountId, apiKey, secret } (the secret is shown once)')
  @ApiErrors([404, 'ACCOUNT_NOT_FOUND'])
  issueApiKey(@Param('accountId') accountId: string): Promise<IssuedAccountKey> {
    return this.operator.issueApiKey(accountId);
  }

  @Delete('api-keys/:keyId')
  @HttpCode(204)
  @ApiOperation({
    summary:
      'Revoke an API key: 204 (also when already revoked), 404 for an unknown key. Refused at once by this ' +
      'gateway instance, by the others within API_KEY_CACHE_TTL_MS',
  })
  @ApiResponse({ status: 204, description: 'Revoked (no body)' })
  @ApiErrors([404, 'API_KEY_NOT_FOUND'])
  revokeApiKey(@Param('keyId') keyId: string): Promise<void> {
    return this.operator.revokeApiKey(keyId);
  }

  @Post('markets')
  @HttpCode(201)
  @ApiOperation({
    summary:
      'List a market: {symbol: BASE-QUOTE, baseAsset, quoteAsset, baseDecimals?/quoteDecimals? (to list an asset ' +
      'that is not yet), tickSize, lotSize, minQuantity? (default lotSize), minNotional? (0), priceBandMin?/' +
      'priceBandMax? (null: no bound), makerFeeBps? (10), takerFeeBps? (20), status? (trading)}, decimal strings as ' +
      'GET /v1/markets answers them. Every service trades it within its catalog reload (2 s)',
  })
  @ApiBody({ schema: jsonSchema(createMarketSchema) })
  @ApiAnswer(201, marketViewSchema, 'Listed: the market as GET /v1/markets shows it')
  @ApiErrors(
    [
      400,
      'VALIDATION_FAILED naming the field (a rule off its step, an unlisted asset without decimals, ...)',
    ],
    [409, 'MARKET_EXISTS (field symbol): nothing changes'],
  )
  createMarket(@Body() body: unknown): Promise<MarketView> {
    return this.operator.createMarket(body);
  }

  @Patch('markets/:symbol')
  @ApiOperation({
    summary:
      "Change a market's rules (any of tickSize, lotSize, minQuantity, minNotional, priceBandMin, priceBandMax, " +
      "makerFeeBps, takerFeeBps, status); they apply to new orders and amends from the catalogs' next reload " +
      '(2 s), resting orders keep theirs. tickSize and lotSize change only on a halted market without open orders',
  })
  @ApiBody({ schema: jsonSchema(patchMarketSchema) })
  @ApiAnswer(200, marketViewSchema, 'The market as it now is')
  @ApiErrors(
    [400, 'UNKNOWN_SYMBOL (field symbol) or VALIDATION_FAILED naming the field; nothing changes'],
    [
      409,
      'MARKET_NOT_HALTED or MARKET_HAS_OPEN_ORDERS (field tickSize or lotSize): the rule cannot change now; nothing changes',
    ],
  )
  patchMarket(@Param('symbol') symbol: string, @Body() body: unknown): Promise<MarketView> {
    return this.operator.patchMarket(symbol, body);
  }

  @Put('markets/:symbol/fees')
  @ApiOperation({ summary: 'Set maker/taker fees in basis points (applies to new orders)' })
  @ApiBody({ schema: jsonSchema(feesSchema) })
  @ApiAnswer(200, feesViewSchema, '{ symbol, makerFeeBps, takerFeeBps }')
  @ApiErrors([400, 'UNKNOWN_SYMBOL (field symbol) or VALIDATION_FAILED naming the field'])
  setFees(
    @Param('symbol') symbol: string,
    @Body() body: unknown,
  ): Promise<{ symbol: string; makerFeeBps: number; takerFeeBps: number }> {
    return this.operator.setFees(symbol, body);
  }
}
