// Login with an API token (api.tokens in the config; the demo prints a viewer
// token at start). GET /api/session checks it and says the role.
import { api, ApiError, setToken } from '../api.js';
import { h, message } from '../dom.js';
import { t } from '../i18n.js';

export function renderLogin(main, { onLogin }) {
  const status = h('div', { class: 'login-status' });
  const input = h('input', {
    id: 'token',
    name: 'token',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    'aria-describedby': 'login-intro',
  });
  const form = h(
    'form',
    {
      class: 'card login',
      onsubmit: async (e) => {
        e.preventDefault();
        const token = input.value.trim();
        if (!token) return;
        status.replaceChildren(message(t('loading')));
        try {
          const session = await api('/api/session', {}, token);
          setToken(token);
          await onLogin(session);
        } catch (err) {
          const invalid = err instanceof ApiError && err.status === 401;
          status.replaceChildren(message(invalid ? t('loginInvalid') : t('loginFailed', { msg: err.message }), 'error'));
          input.focus();
        }
      },
    },
    h('h1', {}, t('loginTitle')),
    h('p', { id: 'login-intro', class: 'muted' }, t('loginIntro')),
    h('label', { for: 'token' }, t('tokenLabel')),
    input,
    h('button', { type: 'submit', class: 'btn-primary', id: 'login-submit' }, t('loginButton')),
    status,
  );
  main.append(form);
  input.focus();
  return null;
}
