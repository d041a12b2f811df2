import { escapeHtml, layout } from './html.js';

/** The built-in login form (users from `oauth.users`); posts to `/oauth/login`. */
export function renderLoginPage(input: {
  action: string;
  interactionId: string;
  csrfToken: string;
  clientName: string;
  error?: string;
  username?: string;
}): string {
  return layout(
    'Sign in',
    `<h1>Sign in to continue to ${escapeHtml(input.clientName)}</h1>
${input.error ? `<p class="error" role="alert">${escapeHtml(input.error)}</p>` : ''}
<form method="post" action="${escapeHtml(input.action)}">
<input type="hidden" name="interaction" value="${escapeHtml(input.interactionId)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(input.csrfToken)}">
<label for="username">Username</label>
<input type="text" id="username" name="username" autocomplete="username" required value="${escapeHtml(input.username ?? '')}">
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>`,
  );
}
