import { NotFoundException, HttpException } from '@nestjs/common';
import { z } from 'zod';
import { ErrorCode } from './gateway.exception';
import { fromZodError, toGatewayException } from './gateway-exception.filter';

describe('error mapping', () => {
  it('names the field of a zod issue, and the first unknown key of a strict object', () => {
    const schema = z.strictObject({ qty: z.string() });
    expect(fromZodError(schema.safeParse({ qty: 1 }).error!).toBody().error).toMatchObject({
      code: 'VALIDATION_FAILED',
      field: 'qty',
    });
    expect(fromZodError(schema.safeParse({ qty: '1', evil: 1 }).error!).toBody().error).toMatchObject({
      field: 'evil',
    });
  });

  it('maps framework errors to codes, never a 500 for client mistakes', () => {
    expect(toGatewayException(new NotFoundException()).code).toBe(ErrorCode.NOT_FOUND);
    expect(toGatewayException(new HttpException('Request body is too large', 413)).code).toBe(
      ErrorCode.PAYLOAD_TOO_LARGE,
    );
    expect(toGatewayException(new HttpException('Unsupported Media Type', 415)).code).toBe(
      ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    );
    expect(toGatewayException(new Error('boom')).code).toBe(ErrorCode.INTERNAL_ERROR);
  });
});
