import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { PortcullisError } from '../errors.js';
import type { AuditWorkerConfig } from './audit-messages.js';

/**
 * Starts the audit worker thread from whichever form this module is running as.
 *
 * - Compiled (`dist/store/audit-writer.js`, what production runs): the worker is the sibling
 *   `audit-worker.js`, started as plain JavaScript.
 * - TypeScript sources (vitest, `tsx src/cli.ts`): Node 20 cannot run a `.ts` worker by itself
 *   (type stripping arrived in Node 22), vitest's transform does not reach worker threads, and on
 *   Node 20 `execArgv: ['--import', 'tsx']` does not apply tsx's hooks to a worker's entry. So the
 *   worker is a two-line ESM bootstrap (`eval`) that loads `audit-worker.ts` through tsx's
 *   `tsImport` API. tsx is resolved from this package's own `node_modules` (it comes with the dev
 *   dependencies, through drizzle-kit and vite), so the cwd does not matter.
 *
 * The choice follows this module's own extension rather than "does a .js exist next to me", so a
 * stale compiled file can never run in place of the source under test.
 */
export function startAuditWorker(config: AuditWorkerConfig): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) {
    return new Worker(new URL('./audit-worker.js', here), { workerData: config });
  }
  const entry = new URL('./audit-worker.ts', here).href;
  const bootstrap =
    `const { tsImport } = await import(${JSON.stringify(resolveTsxApi())});\n` +
    `await tsImport(${JSON.stringify(entry)}, ${JSON.stringify(entry)});\n`;
  return new Worker(bootstrap, { eval: true, type: 'module', workerData: config } as WorkerOptions);
}

/** The ESM build of `tsx/esm/api`, read from tsx's own exports map (require.resolve would pick the CJS one). */
function resolveTsxApi(): string {
  try {
    const pkgPath = createRequire(import.meta.url).resolve('tsx/package.json');
    const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as {
      exports?: Record<string, { import?: { default?: string } } | string>;
    };
    const target = (pkg.exports?.['./esm/api'] as { import?: { default?: string } } | undefined)?.import?.default;
    if (typeof target !== 'string') throw new Error('tsx has no ./esm/api export');
    return pathToFileURL(join(dirname(pkgPath), target)).href;
  } catch (err) {
    throw new PortcullisError(
      'STORE_FAILURE',
      'the audit worker is running from TypeScript sources, which needs tsx installed; run `npm run build` and use dist/',
      { cause: err },
    );
  }
}
