/**
 * Portcullis: an MCP-native gateway. The public API: the config helper and types, and the
 * factory to embed a gateway in another program.
 */
export { defineConfig, parseConfig } from './config/parse-config.js';
export type { GatewayConfig } from './config/parse-config.js';
export type {
  GatewayConfigInput,
  ServerConfig,
  HttpServerConfig,
  StdioServerConfig,
  DatabaseConfig,
} from './config/schema.js';
export { loadConfig } from './config/load-config.js';
export { createGateway } from './gateway/create-gateway.js';
export type { Gateway, GatewayOptions } from './gateway/create-gateway.js';
export type { Authenticator, AuthResult } from './gateway/mcp-endpoint.js';
export { PortcullisError } from './errors.js';
export type { PortcullisErrorCode } from './errors.js';
export { VERSION } from './version.js';
