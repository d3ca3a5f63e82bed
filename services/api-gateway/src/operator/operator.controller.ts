import { Body, Controller, Delete, HttpCode, Param, Post, Put, UseGuards } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import { OPERATOR_HEADER, OperatorGuard } from './operator.guard';
import { OperatorService, type IssuedAccountKey } from './operator.service';

@ApiTags('operator')
@ApiHeader({ name: OPERATOR_HEADER, required: true, description: 'Operator credential (not an API key)' })
@UseGuards(OperatorGuard)
@Controller('v1/operator')
export class OperatorController {
  constructor(private readonly operator: OperatorService) {}

  @Post('deposits')
  @HttpCode(202)
  @ApiOperation({ summary: 'Credit an account: {accountId, asset, amount (decimal string), commandId?}' })
  deposit(@Body() body: unknown): Promise<{ commandId: string; status: 'accepted' }> {
    return this.operator.move('deposit', body);
  }

  @Post('withdrawals')
  @HttpCode(202)
  @ApiOperation({ summary: 'Debit an account; refused by the router when it exceeds available' })
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
  createAccount(@Body() body: unknown): Promise<IssuedAccountKey> {
    return this.operator.createAccount(body);
  }

  @Post('accounts/:accountId/api-keys')
  @HttpCode(201)
  @ApiOperation({
    summary: 'Issue another API key of an existing account (secret shown once); 404 ACCOUNT_NOT_FOUND',
  })
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
  revokeApiKey(@Param('keyId') keyId: string): Promise<void> {
    return this.operator.revokeApiKey(keyId);
  }

  @Put('markets/:symbol/fees')
  @ApiOperation({ summary: 'Set maker/taker fees in basis points (applies to new orders)' })
  setFees(
    @Param('symbol') symbol: string,
    @Body() body: unknown,
  ): Promise<{ symbol: string; makerFeeBps: number; takerFeeBps: number }> {
    return this.operator.setFees(symbol, body);
  }
}
