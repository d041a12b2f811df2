import { parseArgs } from 'node:util';
import { createGateway } from '../gateway/create-gateway.js';
import { createLogger } from '../logger.js';
import { VERSION } from '../version.js';
import { CliError, loadCliConfig, type CliCommand } from './command.js';

/** `portcullis start [--config FILE] [--port N]`: runs until SIGTERM or SIGINT, then shuts down cleanly. */
export const startCommand: CliCommand = {
  name: 'start',
  summary: 'start [--config FILE] [--port N]   start the gateway',
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: { config: { type: 'string', short: 'c' }, port: { type: 'string', short: 'p' } },
    });
    let port: number | undefined;
    if (values.port !== undefined) {
      port = Number(values.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw new CliError(`--port must be an integer from 0 to 65535, got "${values.port}"`);
      }
    }
    const config = await loadCliConfig(values.config, { port });
    const logger = createLogger(config.logging.level);
    const gateway = await createGateway({ config, logger });
    const { url } = await gateway.listen();
    process.stdout.write(`portcullis ${VERSION} listening on ${url}\n`);
    for (const name of Object.keys(config.servers)) process.stdout.write(`  ${url}/mcp/${name}\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGTERM', resolve);
      process.once('SIGINT', resolve);
    });
    logger.info('shutting down');
    await gateway.close();
    return 0;
  },
};
