import type { ApiKeysRepository } from '@trading/db';
import type { SecretCipher } from './secret.cipher';
import { newApiKey } from './signature';

export interface IssuedKey {
  accountId: string;
  keyId: string;
  secret: string;
}

/** Creates API keys (secret encrypted before it reaches the database). Used by the seed and tests. */
export class ApiKeyIssuer {
  constructor(
    private readonly repo: ApiKeysRepository,
    private readonly cipher: SecretCipher,
  ) {}

  async issue(accountId: string, label = ''): Promise<IssuedKey> {
    const { keyId, secret } = newApiKey();
    await this.repo.insert({ keyId, accountId, secretEnc: this.cipher.encrypt(secret, keyId), label });
    return { accountId, keyId, secret };
  }

  /**
   * The account's active key with this label, decrypted, or a new one. A key that no longer
   * decrypts (the platform key changed) is revoked and replaced.
   */
  async ensure(accountId: string, label: string): Promise<IssuedKey & { created: boolean }> {
    for (const row of await this.repo.findActiveByAccount(accountId)) {
      if (row.label !== label) continue;
      try {
        return {
          accountId,
          keyId: row.keyId,
          secret: this.cipher.decrypt(row.secretEnc, row.keyId),
          created: false,
        };
      } catch {
        await this.repo.revoke(row.keyId);
      }
    }
    return { ...(await this.issue(accountId, label)), created: true };
  }
}
