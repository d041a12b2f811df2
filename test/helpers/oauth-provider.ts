/**
 * The official SDK v1 client's OAuth, driven with no human: an `OAuthClientProvider` whose
 * `redirectToAuthorization(url)` plays the browser (follows the gateway's redirects, posts the
 * built-in login and consent forms with the cookies and CSRF token they carry) and hands the code
 * to a callback, ready for `transport.finishAuth(code)`.
 *
 * `authorizeInBrowser` is the browser part alone, for tests that drive the flow by hand.
 */
import type { OAuthClientProvider, OAuthDiscoveryState } from '@modelcontextprotocol/sdk/client/auth.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';

/** What the browser ended with: a redirect to the client, or a page the gateway showed. */
export type BrowserOutcome = { kind: 'redirect'; url: URL; status: number } | { kind: 'page'; status: number; html: string };

export interface BrowserCredentials {
  username: string;
  password: string;
  /** What to press on the consent page. */
  decision?: 'allow' | 'deny';
}

/** A minimal cookie jar: enough for host-only cookies on one origin. */
export class CookieJar {
  private readonly cookies = new Map<string, string>();
  store(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      if (/;\s*max-age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, pair.slice(eq + 1).trim());
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  names(): string[] {
    return [...this.cookies.keys()];
  }
}

function unescapeHtml(value: string): string {
  return value.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));
}

/** Reads a form of the gateway's pages: its action and every named input's value. */
export function parseForm(html: string): { action: string; fields: Record<string, string> } | undefined {
  const form = /<form method="post" action="([^"]*)">/.exec(html);
  if (!form) return undefined;
  const fields: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields[m[1]] = unescapeHtml(m[2]);
  return { action: unescapeHtml(form[1]), fields };
}

/**
 * Plays the user's browser from the authorization URL until the gateway redirects away from its
 * own `/oauth/` pages (to the client's redirect URI) or shows a page it cannot get past.
 */
export async function authorizeInBrowser(
  authorizationUrl: URL | string,
  credentials: BrowserCredentials,
  jar: CookieJar = new CookieJar(),
): Promise<BrowserOutcome> {
  let url = new URL(authorizationUrl);
  const gateway = url.origin;
  let res = await send(url, { method: 'GET' });
  for (let step = 0; step < 10; step++) {
    if (res.status >= 300 && res.status < 400) {
      const next = new URL(res.headers.get('location')!, url);
      if (next.origin !== gateway || !next.pathname.includes('/oauth/')) return { kind: 'redirect', url: next, status: res.status };
      url = next;
      res = await send(url, { method: 'GET' });
      continue;
    }
    const html = await res.text();
    const form = res.status === 200 || res.status === 401 ? parseForm(html) : undefined;
    if (!form || (res.status === 401 && step > 3)) return { kind: 'page', status: res.status, html };
    const body = new URLSearchParams(form.fields);
    if (html.includes('type="password"')) {
      if (res.status === 401) return { kind: 'page', status: res.status, html }; // wrong password
      body.set('username', credentials.username);
      body.set('password', credentials.password);
    } else {
      body.set('decision', credentials.decision ?? 'allow');
    }
    url = new URL(form.action, url);
    res = await send(url, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  }
  throw new Error('authorization did not finish within 10 steps');

  async function send(target: URL, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    const cookie = jar.header();
    if (cookie) headers.set('cookie', cookie);
    const response = await fetch(target, { ...init, headers, redirect: 'manual' });
    jar.store(response);
    return response;
  }
}

export interface TestOAuthProviderOptions {
  credentials: BrowserCredentials;
  redirectUrl?: string;
  clientMetadata?: Partial<OAuthClientMetadata>;
  /** Receives the authorization code (call `transport.finishAuth(code)` with it). */
  onCode?: (code: string) => void;
}

/**
 * An in-memory `OAuthClientProvider` for the SDK v1 client. It stores exactly what the SDK
 * hands it (including the `issuer` stamp), as the SDK asks providers to.
 */
export class TestOAuthProvider implements OAuthClientProvider {
  private info: OAuthClientInformationMixed | undefined;
  private saved: OAuthTokens | undefined;
  private verifier = '';
  private discovery: OAuthDiscoveryState | undefined;
  readonly jar = new CookieJar();
  /** The last code received, and the last page shown instead of a redirect. */
  lastCode: string | undefined;
  lastPage: { status: number; html: string } | undefined;
  readonly redirectUrl: string;

  constructor(private readonly options: TestOAuthProviderOptions) {
    this.redirectUrl = options.redirectUrl ?? 'http://127.0.0.1:8976/callback';
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'Portcullis test client',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      ...this.options.clientMetadata,
    };
  }

  state(): string {
    return 'test-state';
  }
  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed): void {
    this.info = info;
  }
  tokens(): OAuthTokens | undefined {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens): void {
    this.saved = tokens;
  }
  saveCodeVerifier(verifier: string): void {
    this.verifier = verifier;
  }
  codeVerifier(): string {
    return this.verifier;
  }
  saveDiscoveryState(state: OAuthDiscoveryState): void {
    this.discovery = state;
  }
  discoveryState(): OAuthDiscoveryState | undefined {
    return this.discovery;
  }
  invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery'): void {
    if (scope === 'all' || scope === 'client') this.info = undefined;
    if (scope === 'all' || scope === 'tokens') this.saved = undefined;
    if (scope === 'all' || scope === 'discovery') this.discovery = undefined;
  }

  async redirectToAuthorization(authorizationUrl: URL): Promise<void> {
    const outcome = await authorizeInBrowser(authorizationUrl, this.options.credentials, this.jar);
    if (outcome.kind === 'page') {
      this.lastPage = outcome;
      throw new Error(`authorization stopped on a page (HTTP ${outcome.status})`);
    }
    const code = outcome.url.searchParams.get('code');
    if (!code) throw new Error(`authorization failed: ${outcome.url.searchParams.get('error')} ${outcome.url.searchParams.get('error_description')}`);
    if (outcome.url.searchParams.get('state') !== this.state()) throw new Error('state mismatch');
    this.lastCode = code;
    this.options.onCode?.(code);
  }
}
