import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from './config/load-config.js';
import { isPortcullisError } from './errors.js';
import { createGateway } from './gateway/create-gateway.js';
import { createLogger } from './logger.js';
import { VERSION } from './version.js';

const HELP = `portcullis ${VERSION} — an MCP gateway: OAuth, per-call policy, audit, streaming forwarding

Usage:
  portcullis start [--config FILE] [--port N]   start the gateway
  portcullis --help                             show this help
  portcullis --version                          print the version

Options:
  -c, --config FILE   gateway.config.ts (or .mjs, .js, .json); default ./gateway.config.ts
  -p, --port N        listen on port N instead of the config's port (0 = any free port)
`;

const DEFAULT_CONFIGS = ['gateway.config.ts', 'gateway.config.mjs', 'gateway.config.js', 'gateway.config.json'];

/** Runs the CLI; returns the process exit code (start resolves only when the gateway stops). */
export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        port: { type: 'string', short: 'p' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (err) {
    process.stderr.write(`portcullis: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length === 0) {
    // A usage error: the help goes to stderr, like every other one, not into piped output.
    process.stderr.write(`portcullis: no command given\n\n${HELP}`);
    return 2;
  }
  const [command] = positionals;
  if (command !== 'start') {
    process.stderr.write(`portcullis: unknown command "${command}"\n\n${HELP}`);
    return 2;
  }
  return start(values.config, values.port);
}

async function start(configFlag: string | undefined, portFlag: string | undefined): Promise<number> {
  const file = configFlag ?? DEFAULT_CONFIGS.find((f) => existsSync(f));
  if (!file) {
    process.stderr.write(`portcullis: no config file found (looked for ${DEFAULT_CONFIGS.join(', ')}); pass --config FILE\n`);
    return 2;
  }
  let port: number | undefined;
  if (portFlag !== undefined) {
    port = Number(portFlag);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      process.stderr.write(`portcullis: --port must be an integer from 0 to 65535, got "${portFlag}"\n`);
      return 2;
    }
  }
  try {
    const config = await loadConfig(file, { port });
    const logger = createLogger(config.logging.level);
    const gateway = await createGateway({ config, logger });
    const { url } = await gateway.listen();
    process.stdout.write(`portcullis ${VERSION} listening on ${url}\n`);
    for (const name of Object.keys(config.servers)) process.stdout.write(`  ${url}/mcp/${name}\n`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
    logger.info('shutting down');
    await gateway.close();
    return 0;
  } catch (err) {
    if (isPortcullisError(err)) {
      process.stderr.write(`portcullis: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
