import { randomBytes } from 'node:crypto';
import type { PolicyEngine } from '../policy/index.js';
import type { CommittedChange, PolicyWrite } from '../store/policy-records.js';
import { PolicyWriteConflict, type PolicyRepo } from '../store/policy-repo.js';
import { AdminError } from './admin-error.js';

/** The `agents` settings the admin service applies (the `agents` config section, compiled). */
export interface AgentSettings {
  /** Live (not revoked) agents one user may have; `undefined` = no cap. */
  readonly maxPerUser?: number;
  /** Grant inputs (without `id`) given to every new agent that acts on its own grants. */
  readonly defaultPermissions?: readonly Readonly<Record<string, unknown>>[];
  /** Lifetime in seconds of agents the admin creates without an explicit expiry. */
  readonly tokenExpiry?: number;
}

/** Per-call options of every change. */
export interface ChangeOptions {
  /** Who made the change (`api`, `cli:alice`, `config`); stored as `created_by`. */
  readonly actor?: string;
}

/** What the admin operations share; built once by `createPolicyAdmin`. */
export interface AdminContext {
  readonly repo: PolicyRepo;
  readonly now: () => number;
  readonly settings: AgentSettings;
  /** The live engine of this process, if any: explain and budget views read its counters. */
  readonly engine: PolicyEngine | null;
  actor(options?: ChangeOptions): string;
  newId(prefix: string): string;
  /** Saves the writes with their change rows in one transaction, then tells `onChange`. */
  commit(writes: readonly PolicyWrite[]): Promise<CommittedChange[]>;
}

/** Options to build the context (see `PolicyAdminOptions`). */
export interface AdminContextOptions {
  readonly repo: PolicyRepo;
  readonly now: () => number;
  readonly settings?: AgentSettings;
  readonly engine?: PolicyEngine | null;
  readonly actor?: string;
  readonly onChange?: (change: CommittedChange) => void;
  readonly onChangeError?: (err: unknown, change: CommittedChange) => void;
  readonly newId?: (prefix: string) => string;
}

/** A short random id with a readable prefix: `perm_3kTq9xW2bZ1m`. */
export function randomId(prefix: string): string {
  return `${prefix}_${randomBytes(9).toString('base64url').replace(/[-_]/g, 'x')}`;
}

/** Builds the shared context. */
export function createAdminContext(options: AdminContextOptions): AdminContext {
  const defaultActor = options.actor ?? 'api';
  return {
    repo: options.repo,
    now: options.now,
    settings: options.settings ?? {},
    engine: options.engine ?? null,
    actor: (o) => o?.actor ?? defaultActor,
    newId: options.newId ?? randomId,
    async commit(writes) {
      let changes: CommittedChange[];
      try {
        changes = await options.repo.write(writes, options.now());
      } catch (err) {
        if (err instanceof PolicyWriteConflict) throw new AdminError('CONFLICT', 'another change got there first; nothing was saved, check the current state and retry');
        throw err;
      }
      for (const change of changes) {
        // The change is committed whatever the listener does; a listener that fails leaves the
        // change to the polling sync, which applies it within one interval.
        try {
          options.onChange?.(change);
        } catch (err) {
          options.onChangeError?.(err, change);
        }
      }
      return changes;
    },
  };
}
