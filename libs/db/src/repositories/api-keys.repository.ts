import type { DataSource } from 'typeorm';
import { returnedRows } from './returned-rows';

export interface ApiKeyRow {
  keyId: string;
  accountId: string;
  /** AES-256-GCM ciphertext of the secret under the platform key; never the plaintext. */
  secretEnc: Buffer;
  label: string;
  createdAt: Date;
  revokedAt: Date | null;
}

interface RawKey {
  key_id: string;
  account_id: string;
  secret_enc: Buffer;
  label: string;
  created_at: Date;
  revoked_at: Date | null;
}

const COLUMNS = 'key_id, account_id, secret_enc, label, created_at, revoked_at';

function toRow(r: RawKey): ApiKeyRow {
  return {
    keyId: r.key_id,
    accountId: r.account_id,
    secretEnc: r.secret_enc,
    label: r.label,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
  };
}

/** API keys; stores and returns only the encrypted secret. */
export class ApiKeysRepository {
  constructor(private readonly db: DataSource) {}

  async insert(key: { keyId: string; accountId: string; secretEnc: Buffer; label?: string }): Promise<void> {
    await this.db.query(
      `INSERT INTO api_keys (key_id, account_id, secret_enc, label) VALUES ($1, $2, $3, $4)`,
      [key.keyId, key.accountId, key.secretEnc, key.label ?? ''],
    );
  }

  /** The key when it exists and is not revoked. */
  async findActive(keyId: string): Promise<ApiKeyRow | null> {
    const rows = (await this.db.query(
      `SELECT ${COLUMNS} FROM api_keys WHERE key_id = $1 AND revoked_at IS NULL`,
      [keyId],
    )) as RawKey[];
    return rows[0] ? toRow(rows[0]) : null;
  }

  /** The key whether revoked or not. */
  async find(keyId: string): Promise<ApiKeyRow | null> {
    const rows = (await this.db.query(`SELECT ${COLUMNS} FROM api_keys WHERE key_id = $1`, [
      keyId,
    ])) as RawKey[];
    return rows[0] ? toRow(rows[0]) : null;
  }

  /** Active keys of an account, oldest first. */
  async findActiveByAccount(accountId: string): Promise<ApiKeyRow[]> {
    const rows = (await this.db.query(
      `SELECT ${COLUMNS} FROM api_keys WHERE account_id = $1 AND revoked_at IS NULL ORDER BY created_at, key_id`,
      [accountId],
    )) as RawKey[];
    return rows.map(toRow);
  }

  /** Revokes the key; true when it was active. */
  async revoke(keyId: string): Promise<boolean> {
    const result: unknown = await this.db.query(
      `UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL RETURNING key_id`,
      [keyId],
    );
    return returnedRows(result).length > 0;
  }
}
