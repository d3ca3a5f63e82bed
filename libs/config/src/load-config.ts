import { readFileSync } from 'node:fs';
import { type z } from 'zod';

/** Thrown once at boot when the environment does not satisfy a service's schema. */
export class ConfigError extends Error {
  constructor(readonly issues: readonly string[]) {
    super(`Invalid configuration:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export type Env = Record<string, string | undefined>;

/**
 * Resolves `KEY_FILE` indirections (Docker/Swarm secrets under /run/secrets): for every key the
 * schema knows, `KEY_FILE=/path` is read (trailing newline trimmed) when `KEY` itself is unset.
 * Setting both is an error, so an operator never wonders which one won.
 */
export function resolveFileVariables(keys: readonly string[], env: Env): { values: Env; issues: string[] } {
  const values: Env = {};
  const issues: string[] = [];
  for (const key of keys) {
    const direct = env[key];
    const file = env[`${key}_FILE`];
    if (file !== undefined && file !== '') {
      if (direct !== undefined && direct !== '') {
        issues.push(`${key}: set either ${key} or ${key}_FILE, not both`);
        continue;
      }
      try {
        values[key] = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        issues.push(`${key}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    } else if (direct !== undefined && direct !== '') {
      values[key] = direct;
    }
  }
  return { values, issues };
}

/**
 * Parses the environment against a zod object schema once, at boot. Every bad or missing key is
 * reported in one error (never the first only), and no secret value is echoed back.
 */
export function loadConfig<S extends z.ZodObject>(schema: S, env: Env = process.env): z.infer<S> {
  const keys = Object.keys(schema.shape);
  const { values, issues } = resolveFileVariables(keys, env);
  const parsed = schema.safeParse(values);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = issue.path.join('.') || '(root)';
      issues.push(`${key}: ${issue.message}`);
    }
  }
  if (issues.length > 0 || !parsed.success) throw new ConfigError(issues);
  return parsed.data;
}
