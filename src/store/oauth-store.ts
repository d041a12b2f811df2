/**
 * The authorization server's persistence as `oauth/*` sees it: async repositories, whatever the
 * dialect. Rows mirror `schema-oauth.ts`; times are epoch milliseconds; secrets are hashes.
 */

export interface SigningKeyRow {
  kid: string;
  alg: string;
  privateJwk: string;
  publicJwk: string;
  createdAt: number;
  retiredAt: number | null;
}

export interface ClientRow {
  clientId: string;
  secretHash: string | null;
  metadata: string;
  createdAt: number;
}

export interface InteractionRow {
  id: string;
  browserHash: string;
  csrfToken: string;
  request: string;
  createdAt: number;
  expiresAt: number;
}

export interface LoginSessionRow {
  idHash: string;
  userId: string;
  userName: string | null;
  tenant: string | null;
  createdAt: number;
  expiresAt: number;
}

export interface ConsentRow {
  userId: string;
  clientId: string;
  resource: string;
  scope: string;
  updatedAt: number;
}

export interface GrantRow {
  id: string;
  clientId: string;
  userId: string | null;
  agentId: string;
  resource: string;
  scope: string;
  createdAt: number;
  revokedAt: number | null;
  revokeReason: string | null;
}

export interface CodeRow {
  codeHash: string;
  grantId: string;
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
}

export interface RefreshTokenRow {
  tokenHash: string;
  grantId: string;
  scope: string;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
}

export interface AccessTokenRow {
  jti: string;
  grantId: string | null;
  clientId: string;
  agentId: string;
  expiresAt: number;
  revokedAt: number | null;
}

/** A revoked, not yet expired access token, as the revocation list polls it. */
export interface RevokedAccessToken {
  jti: string;
  expiresAt: number;
  /**
   * When the store recorded the revocation, on the store's clock: a shared database stamps it
   * with its own, because other instances' pollers order revocations by it (a cursor) and two
   * machines' clocks disagree.
   */
  revokedAt: number;
}

export interface OAuthStore {
  listSigningKeys(): Promise<SigningKeyRow[]>;
  insertSigningKey(row: SigningKeyRow): Promise<void>;
  /**
   * Inserts the key only if no unretired key exists; true if it did. Instances starting together
   * on one database each try: the first writer wins and every instance then signs with its key.
   */
  insertSigningKeyIfNone(row: SigningKeyRow): Promise<boolean>;
  retireSigningKey(kid: string, at: number): Promise<void>;
  /** Deletes keys retired before `before` (their tokens have all expired). */
  deleteSigningKeysRetiredBefore(before: number): Promise<void>;

  insertClient(row: ClientRow): Promise<void>;
  getClient(clientId: string): Promise<ClientRow | undefined>;

  insertInteraction(row: InteractionRow): Promise<void>;
  getInteraction(id: string): Promise<InteractionRow | undefined>;
  /** Deletes and returns the interaction: single use, so a consent form cannot be replayed. */
  takeInteraction(id: string): Promise<InteractionRow | undefined>;

  insertLoginSession(row: LoginSessionRow): Promise<void>;
  getLoginSession(idHash: string): Promise<LoginSessionRow | undefined>;
  deleteLoginSession(idHash: string): Promise<void>;

  getConsent(userId: string, clientId: string, resource: string): Promise<ConsentRow | undefined>;
  upsertConsent(row: ConsentRow): Promise<void>;

  insertGrant(row: GrantRow): Promise<void>;
  getGrant(id: string): Promise<GrantRow | undefined>;
  /**
   * Revokes a grant and every access token issued under it; returns the newly revoked tokens so
   * the in-process revocation list learns them at once.
   */
  revokeGrant(id: string, at: number, reason: string): Promise<RevokedAccessToken[]>;

  insertCode(row: CodeRow): Promise<void>;
  getCode(codeHash: string): Promise<CodeRow | undefined>;
  /** Marks the code used if it was not; true for exactly one caller however many race. */
  consumeCode(codeHash: string, at: number): Promise<boolean>;

  insertRefreshToken(row: RefreshTokenRow): Promise<void>;
  getRefreshToken(tokenHash: string): Promise<RefreshTokenRow | undefined>;
  /** Marks the refresh token used if it was not; true for exactly one caller. */
  consumeRefreshToken(tokenHash: string, at: number): Promise<boolean>;

  insertAccessToken(row: AccessTokenRow): Promise<void>;
  getAccessToken(jti: string): Promise<AccessTokenRow | undefined>;
  /** Revokes one access token; returns it if it was live and not yet revoked. */
  revokeAccessToken(jti: string, at: number): Promise<RevokedAccessToken | undefined>;
  /** Revoked tokens that have not expired at `now`, revoked at or after `since`. */
  listRevokedAccessTokens(since: number, now: number): Promise<RevokedAccessToken[]>;

  /** Housekeeping: drops expired codes, interactions, sessions and tokens. */
  deleteExpired(now: number): Promise<void>;
}
