/**
 * Several gateway PROCESSES on one database, the way a scaled-out deployment runs them: each is the
 * real binary (`node bin/portcullis.js start --config F --port P`, the built dist/), all read the
 * same config file, and all share one Postgres database. Clients reach each instance on its own
 * port; the config's `baseUrl` is the first instance's origin, standing in for the load
 * balancer's public address, so every instance issues and accepts the same issuer and token
 * audiences (`{baseUrl}/mcp/{server}`), as instances behind one hostname do.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN } from './cli.js';
import { freshPostgresDatabase, type TestDatabase } from './database.js';
import { freePort } from './gateway.js';
import { startNodeProcess, type NodeProcess } from './processes.js';

const DIST_START = fileURLToPath(new URL('../../dist/cli/start.js', import.meta.url));
const HEALTH_TIMEOUT_MS = 15_000;
/** Cold start of the binary on a loaded 2-core machine, migrations included. */
const START_TIMEOUT_MS = 30_000;

export interface GatewayInstance {
  /** 0-based position: instance A is 0. */
  readonly index: number;
  readonly port: number;
  /** This instance's own origin, `http://127.0.0.1:{port}`. */
  readonly url: string;
  /** `{url}/mcp/{server}` on this instance. */
  mcp(server: string): string;
  readonly process: NodeProcess;
  /** Everything the process logged so far (stdout and stderr), for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

export interface Instances {
  readonly instances: GatewayInstance[];
  /** The shared public origin (the config's `baseUrl`): instance A's origin. */
  readonly baseUrl: string;
  /** `{baseUrl}/mcp/{server}`: the resource URI tokens are issued for. */
  resource(server: string): string;
  readonly database: { url: string };
  readonly configFile: string;
  /** Stops every instance (SIGTERM, clean shutdown), then drops the database if it was made here. */
  close(): Promise<void>;
}

export interface StartInstancesOptions {
  /** How many processes; default 2. */
  count?: number;
  /**
   * The config every instance reads (written as JSON), given the shared `baseUrl`; `port`,
   * `baseUrl` and `database` are filled in here.
   */
  config: (ctx: { baseUrl: string }) => Record<string, unknown>;
  /** An existing database to share (the caller drops it); default a fresh one on the test cluster. */
  database?: { url: string };
  /** Extra environment for the processes. */
  env?: Record<string, string>;
  /** Start the instances one after another rather than together; default together. */
  sequential?: boolean;
}

/** Starts `count` gateway processes on one Postgres database and waits until each answers /healthz. */
export async function startInstances(options: StartInstancesOptions): Promise<Instances> {
  if (!existsSync(DIST_START)) throw new Error('dist/cli/start.js is missing: run `npm run build` first');
  const count = options.count ?? 2;
  const owned: TestDatabase | undefined = options.database ? undefined : await freshPostgresDatabase();
  const database = options.database ?? owned!;
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-instances-'));
  const ports: number[] = [];
  // One at a time: two probes in parallel could be handed the same port.
  for (let i = 0; i < count; i++) ports.push(await distinctFreePort(ports));
  const baseUrl = `http://127.0.0.1:${ports[0]}`;
  const configFile = join(dir, 'gateway.config.json');
  writeFileSync(
    configFile,
    JSON.stringify({ logging: { level: 'warn' }, ...options.config({ baseUrl }), baseUrl, database: { provider: 'postgres', url: database.url } }, null, 2),
  );

  const started: GatewayInstance[] = [];
  const cleanup = async () => {
    await Promise.all(started.map((i) => i.stop()));
    rmSync(dir, { recursive: true, force: true });
    await owned?.drop();
  };
  try {
    const start = (index: number) => startInstance(index, ports[index], configFile, options.env).then((i) => (started.push(i), i));
    if (options.sequential) for (let i = 0; i < count; i++) await start(i);
    else await Promise.all(ports.map((_, i) => start(i)));
    await Promise.all(started.map(waitHealthy));
  } catch (error) {
    await cleanup();
    throw error;
  }
  started.sort((a, b) => a.index - b.index);
  return {
    instances: started,
    baseUrl,
    resource: (server) => `${baseUrl}/mcp/${server}`,
    database: { url: database.url },
    configFile,
    close: cleanup,
  };
}

async function startInstance(index: number, port: number, configFile: string, env?: Record<string, string>): Promise<GatewayInstance> {
  const proc = await startNodeProcess(BIN, {
    args: ['start', '--config', configFile, '--port', String(port)],
    env,
    isReady: (line) => line.startsWith('portcullis ') && line.includes(' listening on '),
    timeoutMs: START_TIMEOUT_MS,
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    index,
    port,
    url,
    mcp: (server) => `${url}/mcp/${server}`,
    process: proc,
    output: () => `--- instance ${index} stdout ---\n${proc.stdout()}\n--- instance ${index} stderr ---\n${proc.stderr()}`,
    stop: () => proc.stop(),
  };
}

/** Polls /healthz until it answers 200 (the listener is up and the routes are built). */
async function waitHealthy(instance: GatewayInstance): Promise<void> {
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${instance.url}/healthz`);
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`instance ${instance.index} on ${instance.url}: /healthz did not answer 200 within ${HEALTH_TIMEOUT_MS} ms (${last})\n${instance.output()}`);
}

async function distinctFreePort(taken: readonly number[]): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (!taken.includes(port)) return port;
  }
}
