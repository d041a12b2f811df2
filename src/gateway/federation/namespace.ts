/**
 * How the aggregated endpoint (`/mcp`) names what several upstreams offer, and how it finds the
 * upstream again: tools and prompts become `{prefix}{separator}{name}` (`github__create_issue`),
 * resource URIs and templates `{server}+{uri}` (`docs+file:///readme`: still a URI, and a template's
 * `{var}` parts stay as they are). Names keep to the spec's tool-name rule (1–128 characters of
 * `[A-Za-z0-9_.-]`); anything that would break it, or make two names the same, is found here at
 * start-up and reported with the fix, never silently shadowed.
 */

/** One registered server as the namespace sees it; `prefix: false` exposes names unchanged. */
export interface NamespaceEntry {
  readonly server: string;
  readonly prefix?: string | false;
}

export interface Namespace {
  readonly separator: string;
  /** The exposed name of an upstream tool or prompt, or why it cannot be exposed. */
  expose(server: string, name: string): { ok: true; name: string } | { ok: false; error: string };
  /** The upstream (server, name) behind an exposed tool or prompt name. */
  resolve(exposed: string): { server: string; name: string } | undefined;
  exposeUri(server: string, uri: string): string;
  resolveUri(exposed: string): { server: string; uri: string } | undefined;
  /** Two servers exposing the same name (only possible with `prefix: false`), with the fix. */
  collisions(names: ReadonlyMap<string, readonly string[]>): string[];
}

const NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const MAX = 128;

/** Validates prefixes and the separator at start-up; every problem is reported at once. */
export function compileNamespace(entries: readonly NamespaceEntry[], separator = '__'): { ok: true; namespace: Namespace } | { ok: false; errors: string[] } {
  const errors: string[] = [];
  if (!/^[A-Za-z0-9_.-]{1,8}$/.test(separator)) errors.push(`federation.separator "${separator}": use 1–8 characters of [A-Za-z0-9_.-], e.g. "__"`);
  const heads = new Map<string, string>();
  const unprefixed = new Set<string>();
  for (const { server, prefix } of entries) {
    if (prefix === false) {
      unprefixed.add(server);
      continue;
    }
    const head = `${prefix ?? server}${separator}`;
    if (!NAME.test(head) || head.length >= MAX) errors.push(`servers.${server}.prefix "${prefix ?? server}": use 1–${MAX - separator.length - 1} characters of [A-Za-z0-9_.-]`);
    heads.set(server, head);
  }
  // One head must not start another (`a__` and `a__b__`), or `a__b__x` would name two tools.
  const list = [...heads];
  for (const [server, head] of list) {
    for (const [other, otherHead] of list) {
      if (server < other && (head.startsWith(otherHead) || otherHead.startsWith(head))) {
        errors.push(`servers.${server} and servers.${other}: prefixes "${head}" and "${otherHead}" overlap; give one of them another "prefix"`);
      }
    }
  }
  if (errors.length > 0) return { ok: false, errors };

  const byHead = list.map(([server, head]) => ({ server, head }));
  const namespace: Namespace = {
    separator,
    expose(server, name) {
      const exposed = unprefixed.has(server) ? name : `${heads.get(server) ?? `${server}${separator}`}${name}`;
      if (!NAME.test(exposed)) {
        const why = exposed.length > MAX ? `is ${exposed.length} characters (at most ${MAX})` : 'has characters outside [A-Za-z0-9_.-]';
        return { ok: false, error: `${server}.${name} exposed as "${exposed}" ${why}; set a shorter servers.${server}.prefix${exposed.length > MAX ? '' : ' or rename the tool upstream'}` };
      }
      // An unprefixed name that looks prefixed would be routed to the other server.
      if (unprefixed.has(server) && byHead.some((h) => name.startsWith(h.head))) {
        return { ok: false, error: `${server}.${name} (prefix: false) looks like a name of another server; give ${server} a prefix` };
      }
      return { ok: true, name: exposed };
    },
    resolve(exposed) {
      for (const { server, head } of byHead) if (exposed.startsWith(head)) return { server, name: exposed.slice(head.length) };
      return undefined; // unprefixed names are resolved by the caller's index of what was listed
    },
    exposeUri: (server, uri) => `${server}+${uri}`,
    resolveUri(exposed) {
      const plus = exposed.indexOf('+');
      if (plus <= 0) return undefined;
      const server = exposed.slice(0, plus);
      return entries.some((e) => e.server === server) ? { server, uri: exposed.slice(plus + 1) } : undefined;
    },
    collisions(names) {
      const owner = new Map<string, string>();
      const found: string[] = [];
      for (const [server, list] of names) {
        for (const name of list) {
          const exposed = namespace.expose(server, name);
          if (!exposed.ok) continue;
          const first = owner.get(exposed.name);
          if (first !== undefined && first !== server) {
            const fix = unprefixed.has(server) ? server : first;
            found.push(`"${exposed.name}" is offered by both ${first} and ${server}; remove "prefix: false" from servers.${fix} (or give it a prefix)`);
          } else owner.set(exposed.name, server);
        }
      }
      return found;
    },
  };
  return { ok: true, namespace };
}
