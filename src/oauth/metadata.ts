import { resourceUriFor, type OAuthSettings } from './oauth-settings.js';
import { TOKEN_EXCHANGE_GRANT } from './token-exchange-uris.js';

/** Client authentication methods at the token and revocation endpoints. */
export const TOKEN_ENDPOINT_AUTH_METHODS = ['none', 'client_secret_basic', 'client_secret_post'] as const;

/**
 * RFC 8414 authorization server metadata. `code_challenge_methods_supported` must be present or
 * MCP clients refuse to proceed (MCP 2025-11-25 "Authorization Code Protection"); only S256.
 */
export function authorizationServerMetadata(settings: OAuthSettings, features: { tokenExchange: boolean }): Record<string, unknown> {
  return {
    issuer: settings.issuer,
    authorization_endpoint: settings.endpoints.authorize,
    token_endpoint: settings.endpoints.token,
    jwks_uri: settings.endpoints.jwks,
    ...(settings.registration.enabled ? { registration_endpoint: settings.endpoints.register } : {}),
    revocation_endpoint: settings.endpoints.revoke,
    scopes_supported: settings.scopes,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    // RFC 8693 token exchange is advertised only when the gateway wired policy's delegations.
    grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials', ...(features.tokenExchange ? [TOKEN_EXCHANGE_GRANT] : [])],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: TOKEN_ENDPOINT_AUTH_METHODS,
    revocation_endpoint_auth_methods_supported: TOKEN_ENDPOINT_AUTH_METHODS,
    // RFC 9207: the `iss` parameter in authorization responses defends against mix-up attacks.
    authorization_response_iss_parameter_supported: true,
    // draft-ietf-oauth-client-id-metadata-document: https client_id URLs are fetched.
    client_id_metadata_document_supported: settings.clientMetadataDocuments.enabled,
  };
}

/**
 * RFC 9728 protected resource metadata for one MCP server (or the aggregated `/mcp` endpoint
 * when `server` is undefined). The `resource` must equal the URL the client connects to, or the
 * SDK's `checkResourceAllowed` refuses it.
 */
export function protectedResourceMetadata(settings: OAuthSettings, server: string | undefined): Record<string, unknown> {
  return {
    resource: server === undefined ? `${settings.baseUrl}/mcp` : resourceUriFor(settings.baseUrl, server),
    authorization_servers: [settings.issuer],
    scopes_supported: settings.scopes,
    bearer_methods_supported: ['header'],
    resource_signing_alg_values_supported: ['ES256'],
    ...(server === undefined ? {} : { resource_name: `MCP server ${server}` }),
  };
}

/**
 * The well-known path of the AS metadata: RFC 8414 §3.1 inserts `/.well-known/...` between the
 * host and the issuer's path.
 */
export function authorizationServerMetadataPath(settings: OAuthSettings): string {
  const path = new URL(settings.issuer).pathname.replace(/\/+$/, '');
  return `/.well-known/oauth-authorization-server${path}`;
}
