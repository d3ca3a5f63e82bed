import { ApiGatewayConfigSchema } from './api-gateway.config';

const trustedProxies = ApiGatewayConfigSchema.shape.TRUSTED_PROXIES;

describe('TRUSTED_PROXIES', () => {
  it('trusts no proxy by default', () => {
    expect(trustedProxies.parse(undefined)).toEqual([]);
    expect(trustedProxies.parse(' ')).toEqual([]);
  });

  it('reads comma-separated addresses, CIDR ranges and proxy-addr names', () => {
    expect(trustedProxies.parse('10.0.0.0/8, 127.0.0.1,fd00::/8,::1,loopback')).toEqual([
      '10.0.0.0/8',
      '127.0.0.1',
      'fd00::/8',
      '::1',
      'loopback',
    ]);
  });

  it.each(['*', 'true', '10.0.0.0/33', '10.0.0', 'proxy.example', '10.0.0.1/8/1', '::1/129'])(
    'refuses %s at boot',
    (value) => {
      expect(trustedProxies.safeParse(value).success).toBe(false);
    },
  );
});
