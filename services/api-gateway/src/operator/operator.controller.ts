import { Body, Controller, Delete, HttpCode, Param, Post, Put, UseGuards } from '@nestjs/common';
import { ApiBody, ApiHeader, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { jsonSchema } from '../common/openapi';
import {
  ApiAnswer,
  ApiErrors,
  feesViewSchema,
  issuedKeySchema,
  moneyAckSchema,
} from '../common/openapi-schemas';
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
