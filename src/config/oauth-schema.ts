import { z } from 'zod';

/** The `oauth` section of the config: the authorization server and the resource-server check. */
export const oauthConfigSchema = z.strictObject({
  /**
   * `false` serves every caller as an anonymous identity: a development mode, logged loudly at
   * start. Production deployments keep the default.
   */
  enforceAuth: z.boolean().default(true),
});
