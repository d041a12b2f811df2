import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/parse-config.js';
import type { AgentsRepo } from '../store/agents-repo.js';
import type { OAuthStore } from '../store/oauth-store.js';
import { createAgentProvisioner, type AgentCreatedHook } from './agents.js';
import { createAuthorizationServer, type AuthorizationServer } from './authorization-server.js';
import { createClientDirectory } from './client-directory.js';
import { createClientMetadataDocuments } from './client-metadata-document.js';
import { createExternalVerifier } from './external-issuers.js';
import { createTokenIssuer, type TokenIssuer } from './issue-tokens.js';
import { compileOAuthSettings, type OAuthSettings } from './oauth-settings.js';
import { createResourceGuard, type ResourceGuard } from './resource-guard.js';
import { createRevocationList, type RevocationList } from './revocation-list.js';
import { createSigningKeys, type SigningKeys } from './signing-keys.js';
import { createGuardedFetcher, type GuardedFetcherOptions } from './ssrf-guard.js';
import type { DelegationLookup } from './token-exchange.js';
import { createTokenVerifier } from './verify-token.js';

/** What the OAuth modules need from the gateway. */
export interface OAuthDeps {
  config: GatewayConfig;
  store: { oauth: OAuthStore; agents: AgentsRepo };
  /** Epoch milliseconds. */
  clock: () => number;
  logger: Logger;
  /**
   * Policy's live delegation chains (RFC 8693 token exchange is offered only when given): for an
   * agent, the chain of agent ids root … agent that a call by it would resolve to at `now`, and
   * when that chain stops being valid; null when no live delegation leads to the agent.
   */
  delegations?: DelegationLookup;
  /**
   * Called once for each agent OAuth creates (consent, client_credentials, trusted issuers),
   * after its row is saved and before any token names it; the gateway grants
   * `agents.defaultPermissions` here. If it rejects, the agent is revoked and the request fails.
   */
  onAgentCreated?: AgentCreatedHook;
  /** Test-only knobs for the SSRF-guarded fetcher (loopback, a test CA). */
  fetcherForTests?: Pick<GuardedFetcherOptions, 'allowLoopback' | 'ca'>;
  /** How often other instances' revocations are pulled from the store (ms). */
  revocationPollMs?: number;
  /** How often expired codes, interactions, sessions and tokens are deleted (ms). */
  housekeepingMs?: number;
}

/** The resource guard and the authorization server, sharing keys and the revocation list. */
export interface OAuth {
  settings: OAuthSettings;
  guard: ResourceGuard;
  authorizationServer: AuthorizationServer;
  keys: SigningKeys;
  revocations: RevocationList;
  issuer: TokenIssuer;
  /** Stops timers and closes the outbound fetcher. */
  close(): Promise<void>;
}

/**
 * Builds everything OAuth at start-up: compiles the config (throws CONFIG_INVALID), loads or
 * generates the signing key, loads the revoked-token list and starts polling it. One call per
 * gateway process; the guard and the authorization server then share state, so a revocation at
 * `/oauth/revoke` is refused by the guard on the very next request.
 */
export async function createOAuth(deps: OAuthDeps): Promise<OAuth> {
  const settings = compileOAuthSettings(deps.config);
  const { clock, logger } = deps;
  const store = deps.store.oauth;
  const keys = createSigningKeys({
    store,
    clock,
    accessTokenTtl: settings.accessTokenTtl,
    onRefreshError: (err) => logger.warn({ err: err.message }, 'signing keys not re-read from the store; retrying'),
  });
  await keys.load();
  const revocations = createRevocationList({ store, clock, logger, pollMs: deps.revocationPollMs });
  await revocations.sync();
  revocations.start();

  const fetcher = settings.clientMetadataDocuments.enabled
    ? createGuardedFetcher({
        maxBytes: settings.clientMetadataDocuments.maxBytes,
        timeoutMs: settings.clientMetadataDocuments.timeoutMs,
        ...deps.fetcherForTests,
      })
    : undefined;
  const clients = createClientDirectory({
    settings,
    store,
    metadataDocuments: fetcher ? createClientMetadataDocuments({ fetcher, clock }) : undefined,
  });
  const issuer = createTokenIssuer({ settings, keys, store, clock });
  const provisioner = createAgentProvisioner({
    agents: deps.store.agents,
    maxPerUser: settings.agents.maxPerUser,
    tokenExpiry: settings.agents.tokenExpiry,
    onAgentCreated: deps.onAgentCreated,
    logger,
  });
  const verifier = createTokenVerifier({
    settings,
    keys,
    clock,
    external: createExternalVerifier({ settings, agents: provisioner, clock, logger }),
  });
  const guard = createResourceGuard({ settings, verifier, revocations, clock, logger, enforceAuth: deps.config.oauth.enforceAuth });
  const authorizationServer = createAuthorizationServer({
    settings,
    store,
    agents: deps.store.agents,
    provisioner,
    clients,
    keys,
    issuer,
    verifier,
    revocations,
    delegations: deps.delegations,
    clock,
    logger,
  });
  // Expired rows are dead weight, never a risk (every read checks expiry); sweep them now and then.
  const housekeeping = setInterval(() => {
    store.deleteExpired(clock()).catch((err: unknown) => logger.error({ err }, 'oauth housekeeping failed'));
  }, deps.housekeepingMs ?? 10 * 60_000);
  housekeeping.unref();
  if (!settings.secureCookies) {
    logger.warn({ issuer: settings.issuer }, 'OAuth issuer is plain http (loopback development): login cookies are not Secure');
  }
  return {
    settings,
    guard,
    authorizationServer,
    keys,
    revocations,
    issuer,
    async close() {
      clearInterval(housekeeping);
      keys.close();
      revocations.stop();
      await fetcher?.close();
    },
  };
}
