import { randomBytes } from 'node:crypto';
import { SecretCipher } from './secret.cipher';

describe('SecretCipher', () => {
  const cipher = new SecretCipher(randomBytes(32));

  it('round-trips a secret and never stores it in clear', () => {
    const blob = cipher.encrypt('s3cret-value', 'ak_1');
    expect(blob.includes(Buffer.from('s3cret-value'))).toBe(false);
    expect(cipher.decrypt(blob, 'ak_1')).toBe('s3cret-value');
  });

  it('refuses a ciphertext moved to another key id, a tampered one, or another platform key', () => {
    const blob = cipher.encrypt('s3cret-value', 'ak_1');
    expect(() => cipher.decrypt(blob, 'ak_2')).toThrow();
    const tampered = Buffer.from(blob);
    tampered[tampered.length - 1] ^= 1;
    expect(() => cipher.decrypt(tampered, 'ak_1')).toThrow();
    expect(() => new SecretCipher(randomBytes(32)).decrypt(blob, 'ak_1')).toThrow();
  });

  it('refuses a key that is not 32 bytes', () => {
    expect(() => new SecretCipher(randomBytes(16))).toThrow(/32 bytes/);
  });
});
