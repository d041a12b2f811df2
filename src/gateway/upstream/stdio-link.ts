import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { StdioServerConfig } from '../../config/schema.js';
import { PortcullisError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { serializeMessage } from '../jsonrpc/message.js';
import type { LegacyLink, LinkEvents, LinkFactory } from './legacy-link.js';
import { parseUpstreamMessage, type MessageLimits } from './read-body.js';

/**
 * Variables a stdio server gets from the gateway's own environment. The rest (the gateway's
 * secrets among them) stays out unless the server's config passes it explicitly.
 */
const INHERITED_ENV =
  process.platform === 'win32'
    ? ['APPDATA', 'HOMEDRIVE', 'HOMEPATH', 'LOCALAPPDATA', 'PATH', 'PROCESSOR_ARCHITECTURE', 'SYSTEMDRIVE', 'SYSTEMROOT', 'TEMP', 'USERNAME', 'USERPROFILE']
    : ['HOME', 'LOGNAME', 'PATH', 'SHELL', 'TERM', 'USER', 'LANG', 'TMPDIR'];

const KILL_GRACE_MS = 2_000;

/** Spawns the configured command and speaks newline-delimited JSON-RPC over its stdio. */
export function stdioLinkFactory(name: string, config: StdioServerConfig, limits: MessageLimits, logger: Logger): LinkFactory {
  return async (events) => {
    const env: Record<string, string> = {};
    for (const key of INHERITED_ENV) if (process.env[key] !== undefined) env[key] = process.env[key]!;
    Object.assign(env, config.env);
    const child = spawn(config.command, config.args, { cwd: config.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err) =>
        reject(new PortcullisError('UPSTREAM_UNAVAILABLE', `cannot start ${config.command}: ${err.message}`, { cause: err })),
      );
    });
    return new StdioLink(name, child, limits, logger, events);
  };
}

class StdioLink implements LegacyLink {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #events: LinkEvents;
  readonly #limits: MessageLimits;
  #closing = false;
  #buffered: Buffer[] = [];
  #bufferedBytes = 0;
  readonly pid: number | undefined;

  constructor(name: string, child: ChildProcessWithoutNullStreams, limits: MessageLimits, logger: Logger, events: LinkEvents) {
    this.#child = child;
    this.#events = events;
    this.#limits = limits;
    this.pid = child.pid;
    const log = logger.child({ server: name, pid: child.pid });
    child.stdout.on('data', (chunk: Buffer) => this.#onData(chunk));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      for (const line of text.split('\n')) if (line.trim()) log.info({ stderr: line.slice(0, 2000) }, 'upstream stderr');
    });
    child.stdin.on('error', () => undefined); // surfaces as the exit below
    child.once('exit', (code, signal) => {
      if (!this.#closing) {
        log.warn({ code, signal }, 'upstream process exited');
        events.onClose(new PortcullisError('UPSTREAM_CLOSED', `process exited (${signal ?? `code ${code}`})`));
      }
    });
  }

  async send(message: Parameters<LegacyLink['send']>[0]): Promise<void> {
    if (this.#closing || this.#child.exitCode !== null || !this.#child.stdin.writable) {
      throw new PortcullisError('UPSTREAM_UNAVAILABLE', 'process is not running');
    }
    this.#child.stdin.write(`${serializeMessage(message)}\n`);
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.stdin.end();
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }

  #onData(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl === -1) break;
      let line = chunk.subarray(start, nl);
      if (this.#buffered.length > 0) {
        this.#buffered.push(line);
        line = Buffer.concat(this.#buffered);
        this.#buffered = [];
        this.#bufferedBytes = 0;
      }
      start = nl + 1;
      this.#onLine(line);
    }
    if (start < chunk.length) {
      this.#bufferedBytes += chunk.length - start;
      if (this.#bufferedBytes > this.#limits.maxResponseBytes) {
        // A line this long is a broken or hostile server; restarting it is the only way to resync.
        this.#buffered = [];
        this.#bufferedBytes = 0;
        this.#events.onClose(new PortcullisError('RESPONSE_TOO_LARGE', `a message exceeds ${this.#limits.maxResponseBytes} bytes`));
        void this.close();
        return;
      }
      this.#buffered.push(Buffer.from(chunk.subarray(start)));
    }
  }

  #onLine(line: Buffer): void {
    if (line.length === 0 || (line.length === 1 && line[0] === 0x0d)) return;
    let message;
    try {
      message = parseUpstreamMessage(line, this.#limits);
    } catch {
      return; // non-JSON chatter on stdout is a server bug, not a reason to drop the session
    }
    this.#events.onMessage(message);
  }
}
