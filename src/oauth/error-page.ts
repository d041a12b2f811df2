import { escapeHtml, layout } from './html.js';

/**
 * An authorization error shown to the user instead of redirected: used whenever the redirect URI
 * is not verified (unknown client, missing or unregistered redirect_uri), so the authorization
 * endpoint can never be used as an open redirector (RFC 6749 §4.1.2.1, RFC 9700 §4.11).
 */
export function renderErrorPage(error: string, description: string): string {
  return layout(
    'Authorization failed',
    `<h1>This authorization request cannot continue</h1>
<p class="error"><strong>${escapeHtml(error)}</strong>: ${escapeHtml(description)}</p>
<p>Return to the application and try again. If it keeps happening, tell its developer.</p>`,
  );
}
