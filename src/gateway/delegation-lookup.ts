import type { DelegationLookup } from '../oauth/token-exchange.js';
import { resolveChain, type DelegationDirectory } from '../policy/index.js';

/**
 * The live delegation chain ending at an agent, as RFC 8693 token exchange needs it: read from
 * the same policy index that decides calls, so a token is only issued along a link policy honours.
 */
export function delegationLookup(directory: DelegationDirectory): DelegationLookup {
  return {
    liveChain(childAgentId, now) {
      const r = resolveChain(directory, childAgentId);
      if (!r.ok || r.chain.links.length === 0) return null;
      const { agentIds, notBefore, notAfter } = r.chain;
      return now >= notBefore && now < notAfter ? { chain: [...agentIds], expiresAt: notAfter } : null;
    },
  };
}
