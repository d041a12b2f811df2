import type { CompiledPermission } from './compile-permission.js';
import { isWildcardSegment, patternCovers } from './resource-pattern.js';

/**
 * The grants of one owner (an agent, or one delegation link), indexed so that finding the
 * grants for `mcp:{server}:{tool}` costs Map lookups plus the owner's wildcard grants for that
 * server, whatever the total number of grants in the gateway.
 */
export interface GrantSet {
  readonly size: number;
  /** All grants matching the target for `actionBit`, allows and denies apart, narrowest first. */
  matching(actionBit: number, target: readonly string[]): MatchedGrants;
  get(id: string): CompiledPermission | undefined;
  values(): IterableIterator<CompiledPermission>;
}

/** A grant set the index can change. */
export interface MutableGrantSet extends GrantSet {
  /** Adds or replaces (by id). */
  put(grant: CompiledPermission): void;
  remove(id: string): boolean;
}

/** Grants matching one target, allows and denies apart. */
export interface MatchedGrants {
  readonly allows: readonly CompiledPermission[];
  readonly denies: readonly CompiledPermission[];
}

interface ServerGrants {
  /** Fully literal patterns, by tool part. */
  readonly exact: Map<string, CompiledPermission[]>;
  /** Literal server, wildcard somewhere in the tool part. */
  readonly wild: CompiledPermission[];
}

const EMPTY: readonly CompiledPermission[] = Object.freeze([]);

/** Creates a grant set, optionally filled. */
export function createGrantSet(grants: Iterable<CompiledPermission> = []): MutableGrantSet {
  const byId = new Map<string, CompiledPermission>();
  const byServer = new Map<string, ServerGrants>();
  const anyServer: CompiledPermission[] = [];

  function bucketOf(grant: CompiledPermission): CompiledPermission[] {
    const { server, exactTool } = grant.pattern;
    if (server === null) return anyServer;
    let s = byServer.get(server);
    if (s === undefined) {
      s = { exact: new Map(), wild: [] };
      byServer.set(server, s);
    }
    if (exactTool === null) return s.wild;
    let list = s.exact.get(exactTool);
    if (list === undefined) {
      list = [];
      s.exact.set(exactTool, list);
    }
    return list;
  }

  function collect(list: readonly CompiledPermission[] | undefined, bit: number, target: readonly string[], allows: CompiledPermission[], denies: CompiledPermission[]): void {
    if (list === undefined) return;
    for (const g of list) {
      if ((g.actionMask & bit) === 0 || !patternCovers(g.pattern.segments, target)) continue;
      (g.effect === 'deny' ? denies : allows).push(g);
    }
  }

  const set: MutableGrantSet = {
    get size() {
      return byId.size;
    },
    put(grant) {
      set.remove(grant.id);
      byId.set(grant.id, grant);
      bucketOf(grant).push(grant);
    },
    remove(id) {
      const old = byId.get(id);
      if (old === undefined) return false;
      byId.delete(id);
      const list = bucketOf(old);
      list.splice(list.indexOf(old), 1);
      return true;
    },
    get: (id) => byId.get(id),
    values: () => byId.values(),
    matching(bit, target) {
      if (byId.size === 0) return { allows: EMPTY, denies: EMPTY };
      const allows: CompiledPermission[] = [];
      const denies: CompiledPermission[] = [];
      // A wildcard server in the target (a delegated pattern) can only sit inside a grant whose
      // server is a wildcard too; a literal one can sit inside its server's grants as well.
      const server = target[1];
      if (server !== undefined && !isWildcardSegment(server)) {
        const s = byServer.get(server);
        if (s !== undefined) {
          if (!target.slice(2).some(isWildcardSegment)) collect(s.exact.get(target.slice(2).join(':')), bit, target, allows, denies);
          collect(s.wild, bit, target, allows, denies);
        }
      }
      collect(anyServer, bit, target, allows, denies);
      allows.sort(narrowestFirst);
      denies.sort(narrowestFirst);
      return { allows, denies };
    },
  };
  for (const g of grants) set.put(g);
  return set;
}

function narrowestFirst(a: CompiledPermission, b: CompiledPermission): number {
  return b.pattern.specificity - a.pattern.specificity || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
