import type { z } from 'zod';
import { PortcullisError } from '../errors.js';
import { configSchema, type DeepReadonly, type GatewayConfigInput, type GatewayConfigParsed } from './schema.js';

/** The compiled, deep-frozen configuration the gateway runs on. */
export type GatewayConfig = DeepReadonly<GatewayConfigParsed & { baseUrl: string }>;


/** Typed identity helper for `gateway.config.ts`; the only default export users write. */
export function defineConfig(config: GatewayConfigInput): GatewayConfigInput {
  return config;
}

/**
 * Validates raw config once at start-up. Errors name the key and the problem
 * (`servers.github.url: invalid URL`), all of them at once.
 */
export function parseConfig(raw: unknown, overrides: { port?: number } = {}): GatewayConfig {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    throw new PortcullisError('CONFIG_INVALID', `invalid config:\n${formatIssues(result.error.issues)}`);
  }
  const parsed = result.data;
  if (overrides.port !== undefined) parsed.port = overrides.port;
  const baseUrl = (parsed.baseUrl ?? `http://${hostForUrl(parsed.host)}:${parsed.port}`).replace(/\/+$/, '');
  return deepFreeze({ ...parsed, baseUrl });
}

function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const path = issue.path.map(String).join('.') || '(root)';
      if (issue.code === 'unrecognized_keys') {
        return `  ${path === '(root)' ? '' : `${path}.`}${issue.keys.join(', ')}: unknown key`;
      }
      return `  ${path}: ${issue.message}`;
    })
    .join('\n');
}

function hostForUrl(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}
