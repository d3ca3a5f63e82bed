import { mkdirSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyNativeEncryptionKeyDefault, nativeEncryptionKeyFile } from './native-encryption-key';

describe('native encryption key default', () => {
  it('generates the key file once and points the environment at it', () => {
    const root = mkdtempSync(join(tmpdir(), 'gw-'));
    mkdirSync(join(root, 'native'));
    const env: NodeJS.ProcessEnv = {};
    expect(applyNativeEncryptionKeyDefault(env, root)).toBe(nativeEncryptionKeyFile(root));
    const key = readFileSync(env.API_KEY_ENCRYPTION_KEY_FILE!, 'utf8');
    expect(key).toMatch(/^[0-9a-f]{64}\n$/);
    expect(statSync(env.API_KEY_ENCRYPTION_KEY_FILE!).mode & 0o777).toBe(0o600);
    // A second process (the seed, the gateway) gets the same key.
    const again: NodeJS.ProcessEnv = {};
    applyNativeEncryptionKeyDefault(again, root);
    expect(readFileSync(again.API_KEY_ENCRYPTION_KEY_FILE!, 'utf8')).toBe(key);
  });

  it('leaves an explicit configuration and non-checkouts alone', () => {
    const root = mkdtempSync(join(tmpdir(), 'gw-'));
    expect(
      applyNativeEncryptionKeyDefault({ API_KEY_ENCRYPTION_KEY_FILE: '/run/secrets/k' }, root),
    ).toBeNull();
    const env: NodeJS.ProcessEnv = {};
    expect(applyNativeEncryptionKeyDefault(env, root)).toBeNull();
    expect(env.API_KEY_ENCRYPTION_KEY_FILE).toBeUndefined();
  });
});
