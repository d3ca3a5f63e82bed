import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The repository root, from the source tree or from dist/ alike. */
export function repositoryRoot(): string {
  const fromSource = resolve(__dirname, '../../../..');
  return existsSync(join(fromSource, 'package.json')) ? fromSource : resolve(__dirname, '../../../../..');
}

/** Where the native platform keeps the API key encryption key (see native/.run/secrets). */
export function nativeEncryptionKeyFile(root = repositoryRoot()): string {
  return join(root, 'native/.run/secrets/api_key_encryption_key');
}

/**
 * Native runs only: when neither API_KEY_ENCRYPTION_KEY nor API_KEY_ENCRYPTION_KEY_FILE is set
 * and this is a source checkout (native/ exists; images never contain it), points
 * API_KEY_ENCRYPTION_KEY_FILE at native/.run/secrets/api_key_encryption_key, generating a random
 * key there once (exclusive create, so the seed and the gateway can never write two different
 * keys). Compose and Swarm set API_KEY_ENCRYPTION_KEY_FILE themselves; this never runs there.
 * Returns the file it settled on, or null when the environment already said.
 */
export function applyNativeEncryptionKeyDefault(
  env: NodeJS.ProcessEnv,
  root = repositoryRoot(),
): string | null {
  if (env.API_KEY_ENCRYPTION_KEY || env.API_KEY_ENCRYPTION_KEY_FILE) return null;
  if (!existsSync(join(root, 'native'))) return null;
  const file = nativeEncryptionKeyFile(root);
  if (!existsSync(file)) {
    mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
    try {
      writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      // Another process created it first: use theirs.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  env.API_KEY_ENCRYPTION_KEY_FILE = file;
  return file;
}
