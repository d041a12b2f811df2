import type { AgentsRepo } from './agents-repo.js';
import type { OAuthStore } from './oauth-store.js';
import type { PolicyRepo } from './policy-repo.js';
import type { SharedPolicyState } from './shared-state.js';
import type { ToolPinsRepo } from './tool-pins-repo.js';

/**
 * The store as the rest of the gateway sees it: repositories with async methods, whatever the
 * dialect behind them. SQLite (`store/sqlite.ts`) is the embedded default; a Postgres provider
 * implements the same interface, so callers never change.
 */

export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  readonly sessions: SessionRepo;
  readonly servers: ServerRepo;
  readonly meta: MetaRepo;
  readonly oauth: OAuthStore;
  readonly agents: AgentsRepo;
  /** Permissions, delegations, budgets, their usage and the change log (`schema-policy.ts`). */
  readonly policy: PolicyRepo;
  /** Approved tool definitions and pending changes (`schema-tools.ts`). */
  readonly toolPins: ToolPinsRepo;
  /** Present when several gateway processes may share this store (Postgres): budget leases and pushed policy changes. */
  readonly shared?: SharedPolicyState;
  close(): Promise<void>;
}

export interface SessionRow {
  idHash: string;
  server: string;
  principal: string;
  protocolVersion: string;
  initParams: string;
  upstreamSessionId: string | null;
  createdAt: number;
  lastSeenAt: number;
}

export interface SessionRepo {
  insert(row: SessionRow): Promise<void>;
  get(idHash: string): Promise<SessionRow | undefined>;
  setUpstreamSession(idHash: string, upstreamSessionId: string | null): Promise<void>;
  touch(idHash: string, at: number): Promise<void>;
  delete(idHash: string): Promise<void>;
  /** Removes sessions idle since before `before`; returns their id hashes. */
  deleteIdle(before: number): Promise<string[]>;
  count(): Promise<number>;
}

export interface ServerRow {
  name: string;
  transport: 'http' | 'stdio';
  target: string;
  era: 'modern' | 'legacy' | null;
  updatedAt: number;
}

export interface ServerRepo {
  upsert(row: ServerRow): Promise<void>;
  setEra(name: string, era: 'modern' | 'legacy' | null): Promise<void>;
  list(): Promise<ServerRow[]>;
}

export interface MetaRepo {
  get(key: string): Promise<string | undefined>;
  /** Sets the value unless the key exists; returns the value now stored (first writer wins). */
  setIfAbsent(key: string, value: string): Promise<string>;
}
