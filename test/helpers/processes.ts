/**
 * Real child processes for integration and end-to-end tests: the upstream fixtures in
 * test/fixtures and, later, the gateway CLI itself. Every child started here is tracked and
 * SIGKILLed if the test process exits with it still running, so a failed test leaves no
 * orphan holding a port.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Absolute paths of the bundled fixtures and the demo server. */
export const FIXTURES = {
  v1Http: fileURLToPath(new URL('../fixtures/v1-http-server.mjs', import.meta.url)),
  v2Http: fileURLToPath(new URL('../fixtures/v2-http-server.mjs', import.meta.url)),
  demo: fileURLToPath(new URL('../../examples/demo-server.mjs', import.meta.url)),
} as const;

export interface StartNodeProcessOptions {
  /** Arguments after the script path. */
  args?: string[];
  /** Added to (and overriding) the parent's environment. */
  env?: Record<string, string>;
  cwd?: string;
  /** Called with each stdout line until one returns true; that line is the ready signal. */
  isReady: (line: string) => boolean;
  /** How long to wait for the ready line before killing the child and rejecting. */
  timeoutMs?: number;
}

export interface NodeProcess {
  child: ChildProcess;
  /** The stdout line `isReady` accepted. */
  readyLine: string;
  /** Everything the child wrote to stdout / stderr so far (the last 64 KiB of each). */
  stdout(): string;
  stderr(): string;
  /** SIGTERM, then wait for exit (SIGKILL after 5 s). Resolves at once if already exited. */
  stop(): Promise<void>;
  /** SIGKILL, then wait for exit: an upstream crash as the gateway sees it. */
  kill(): Promise<void>;
}

export interface Fixture extends NodeProcess {
  file: string;
  port: number;
  /** `http://127.0.0.1:{port}/mcp` */
  url: string;
  options: StartFixtureOptions;
}

export interface StartFixtureOptions {
  /** Port to bind; 0 (the default) picks an ephemeral one. */
  port?: number;
  /** Extra arguments after the port. */
  args?: string[];
  env?: Record<string, string>;
}

const READY_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 5_000;
const OUTPUT_LIMIT = 64 * 1024;

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous; kill() is, and SIGKILL cannot be ignored.
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

/** Spawns `node file ...args` and resolves once a stdout line satisfies `isReady`. */
export function startNodeProcess(file: string, opts: StartNodeProcessOptions): Promise<NodeProcess> {
  installExitHook();
  const child = spawn(process.execPath, [file, ...(opts.args ?? [])], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    // A child that never spawned emits 'error' and no 'exit'.
    child.once('error', () => child.pid === undefined && resolve());
  });
  void exited.then(() => running.delete(child));

  let stdout = '';
  let stderr = '';
  let partialLine = '';
  let onLine: ((line: string) => void) | undefined;
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  // Both streams are drained for the child's whole life: a chatty child (the gateway logs to
  // stdout) would otherwise block once the pipe buffer fills.
  child.stdout!.on('data', (chunk: string) => {
    stdout = (stdout + chunk).slice(-OUTPUT_LIMIT);
    if (!onLine) return;
    const parts = (partialLine + chunk).split('\n');
    partialLine = parts.pop()!;
    for (const line of parts) onLine?.(line);
  });
  child.stderr!.on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-OUTPUT_LIMIT)));

  const hasExited = () => child.exitCode !== null || child.signalCode !== null;
  const signalAndWait = async (signal: NodeJS.Signals): Promise<void> => {
    if (hasExited()) return;
    child.kill(signal);
    const grace = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(grace);
  };

  return new Promise<NodeProcess>((resolve, reject) => {
    const timeoutMs = opts.timeoutMs ?? READY_TIMEOUT_MS;
    let settled = false;
    const settle = () => {
      settled = true;
      clearTimeout(timer);
      onLine = undefined;
      child.off('close', onEarlyExit);
      child.off('error', onSpawnError);
    };
    const fail = (why: string) => {
      if (settled) return;
      settle();
      void signalAndWait('SIGKILL').then(() => reject(new Error(`${file}: ${why}\n--- stderr ---\n${stderr}`)));
    };
    const onEarlyExit = (code: number | null, signal: string | null) => fail(`exited before ready (code ${code}, signal ${signal})`);
    const onSpawnError = (error: Error) => fail(`spawn failed: ${error.message}`);
    const timer = setTimeout(() => fail(`no ready line within ${timeoutMs} ms`), timeoutMs);
    // 'close' rather than 'exit': by then stderr is fully read, so the rejection shows all of it.
    child.once('close', onEarlyExit);
    child.once('error', onSpawnError);
    onLine = (line) => {
      if (settled || !opts.isReady(line)) return;
      settle();
      resolve({
        child,
        readyLine: line,
        stdout: () => stdout,
        stderr: () => stderr,
        stop: () => signalAndWait('SIGTERM'),
        kill: () => signalAndWait('SIGKILL'),
      });
    };
  });
}

/**
 * Starts an HTTP fixture (see test/fixtures/http-harness.mjs for its contract) and resolves
 * with its port once it prints `{"port":N}`.
 */
export async function startFixture(file: string, options: StartFixtureOptions = {}): Promise<Fixture> {
  const proc = await startNodeProcess(file, {
    args: [String(options.port ?? 0), ...(options.args ?? [])],
    env: options.env,
    isReady: (line) => parsePortLine(line) !== undefined,
  });
  const port = parsePortLine(proc.readyLine)!;
  return { ...proc, file, port, url: `http://127.0.0.1:${port}/mcp`, options };
}

/**
 * Starts the same fixture again on the same port and environment: the "upstream died and came
 * back" case. A still-running old process is stopped first so the port is free.
 */
export async function restartFixture(fixture: Fixture): Promise<Fixture> {
  await fixture.stop();
  return startFixture(fixture.file, { ...fixture.options, port: fixture.port });
}

function parsePortLine(line: string): number | undefined {
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed === 'object' && parsed !== null && 'port' in parsed && typeof parsed.port === 'number') {
      return parsed.port;
    }
  } catch {
    // Not the ready line.
  }
  return undefined;
}
