/**
 * The RFC 8693 §4.1 `act` (actor) claim. Nesting is chronological from the inside out: the
 * outermost `act` is the current actor, each nested one an earlier actor. Portcullis names
 * actors by agent id, so a token of agent C reached through the delegations A → B → C carries
 * `act: { sub: C, act: { sub: B, act: { sub: A } } }` while `sub` stays the subject (the user,
 * or the root's client) the whole chain acts for.
 */
export interface ActClaim {
  sub: string;
  act?: ActClaim;
}

/** Builds the nested claim from a delegation chain, root first, current actor last. */
export function actClaimFor(chain: readonly string[]): ActClaim {
  if (chain.length === 0) throw new RangeError('actClaimFor: empty chain');
  let claim: ActClaim | undefined;
  for (const agentId of chain) claim = claim === undefined ? { sub: agentId } : { sub: agentId, act: claim };
  return claim!;
}

/** The actors of an `act` claim, current first; undefined when the claim is malformed. */
export function actorsOf(claim: unknown, maxDepth = 32): string[] | undefined {
  const actors: string[] = [];
  let node = claim;
  while (node !== undefined) {
    if (typeof node !== 'object' || node === null || typeof (node as ActClaim).sub !== 'string') return undefined;
    if (actors.length >= maxDepth) return undefined;
    actors.push((node as ActClaim).sub);
    node = (node as ActClaim).act;
  }
  return actors;
}
