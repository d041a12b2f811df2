import { escapeHtml, layout } from './html.js';
import { isLoopbackHost } from './redirect-uri.js';

/**
 * The consent page: names the client, where the code will be sent (its redirect URI host, as the
 * MCP spec requires for metadata-document clients), the server and the scopes. Posts to
 * `/oauth/consent` with the interaction's CSRF token.
 */
export function renderConsentPage(input: {
  action: string;
  interactionId: string;
  csrfToken: string;
  clientName: string;
  clientId: string;
  redirectUri: string;
  resource: string;
  scopes: readonly string[];
  userName: string;
}): string {
  const redirect = new URL(input.redirectUri);
  const loopback = isLoopbackHost(redirect.hostname);
  return layout(
    'Authorize access',
    `<h1>${escapeHtml(input.clientName)} wants to access an MCP server as you</h1>
<p>Signed in as <strong>${escapeHtml(input.userName)}</strong>.</p>
<dl>
<dt>Client</dt><dd><code>${escapeHtml(input.clientId)}</code></dd>
<dt>Sends you back to</dt><dd><code>${escapeHtml(redirect.host)}</code></dd>
<dt>Server</dt><dd><code>${escapeHtml(input.resource)}</code></dd>
<dt>Permissions</dt><dd>${input.scopes.length ? input.scopes.map((s) => `<code>${escapeHtml(s)}</code>`).join(' ') : 'none'}</dd>
</dl>
${
  loopback
    ? '<p class="warn">This client receives the result on your own machine (localhost). Any program on this computer could claim to be it: continue only if you just started it.</p>'
    : ''
}
<form method="post" action="${escapeHtml(input.action)}">
<input type="hidden" name="interaction" value="${escapeHtml(input.interactionId)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(input.csrfToken)}">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>`,
  );
}
