import { DataSource, type MixedList, type EntitySchema } from 'typeorm';
import type { DatabaseConfig } from '@trading/config';

export interface DataSourceOptions {
  /** Direct connection to PostgreSQL (migrations, sessions); default goes through PgBouncer. */
  direct?: boolean;
  applicationName: string;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  entities?: MixedList<Function | string | EntitySchema>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  migrations?: MixedList<Function | string>;
}

/**
 * TypeORM data source. Through PgBouncer (transaction pooling) nothing may rely on session state:
 * no SET, LISTEN or named prepared statements; pg's unnamed statements are fine.
 */
export function createDataSource(config: DatabaseConfig, options: DataSourceOptions): DataSource {
  const host = options.direct ? (config.DATABASE_DIRECT_HOST ?? config.DATABASE_HOST) : config.DATABASE_HOST;
  const port = options.direct ? (config.DATABASE_DIRECT_PORT ?? config.DATABASE_PORT) : config.DATABASE_PORT;
  return new DataSource({
    type: 'postgres',
    host,
    port,
    database: config.DATABASE_NAME,
    username: config.DATABASE_USER,
    password: config.DATABASE_PASSWORD,
    ssl: config.DATABASE_SSL ? { rejectUnauthorized: true } : false,
    applicationName: options.applicationName,
    entities: options.entities ?? [],
    migrations: options.migrations ?? [],
    migrationsTableName: 'schema_migrations',
    synchronize: false,
    logging: ['error'],
    extra: {
      max: options.direct ? 2 : config.DATABASE_POOL_SIZE,
      // Below Swarm's 900 s idle cut on overlay networks.
      keepAlive: true,
      keepAliveInitialDelayMillis: 60_000,
      connectionTimeoutMillis: 3000,
      idleTimeoutMillis: 30_000,
    },
  });
}

/** Resolves when `SELECT 1` comes back within the timeout. */
export async function pingDatabase(dataSource: DataSource, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      dataSource.query('SELECT 1'),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`database did not answer within ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}
