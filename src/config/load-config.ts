import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createJiti } from 'jiti';
import { PortcullisError } from '../errors.js';
import { parseConfig, type GatewayConfig } from './parse-config.js';

const LOADABLE = new Set(['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs', '.json']);

/**
 * Loads `gateway.config.ts` (or .mjs/.js/.json) and validates it. TypeScript is loaded through
 * jiti because Node 20 cannot import .ts on its own; the module's default export is the config.
 */
export async function loadConfig(file: string, overrides: { port?: number } = {}): Promise<GatewayConfig> {
  const path = resolve(file);
  const ext = extname(path);
  if (!LOADABLE.has(ext)) {
    throw new PortcullisError('CONFIG_LOAD_FAILED', `cannot load config ${file}: expected .ts, .mjs, .js or .json`);
  }
  let raw: unknown;
  try {
    if (ext === '.json') {
      raw = JSON.parse(await readFile(path, 'utf8'));
    } else {
      const jiti = createJiti(pathToFileURL(path).href, { moduleCache: false });
      const mod = (await jiti.import(path)) as { default?: unknown };
      raw = mod && typeof mod === 'object' && 'default' in mod ? mod.default : mod;
    }
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new PortcullisError('CONFIG_LOAD_FAILED', `cannot load config ${file}: ${reason}`, { cause: err });
  }
  return parseConfig(raw, overrides);
}
