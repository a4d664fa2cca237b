// The dashboard shell: login, the shared device store kept current by the live
// stream, the hash router, and the language switch. Views live in views/*.js;
// each renders into <main> and may react to live events.
import { api, getToken, liveStream, setToken, setUnauthorizedHandler } from './api.js';
import { h, message, replace } from './dom.js';
import { getLang, setLang, setTimeZone, t } from './i18n.js';
import { renderAdmin } from './views/admin.js';
import { renderDevice } from './views/device.js';
import { renderIndicators } from './views/indicators.js';
import { renderLogin } from './views/login.js';
import { renderOverview } from './views/overview.js';
import { store } from './state.js';

let stream = null;
let view = null;

const app = document.getElementById('app');

function announce(text) {
  const live = document.getElementById('announce');
  if (live) live.textContent = text;
}

// --- live events --------------------------------------------------------------
function onLiveEvent(type, data) {
  if (type === 'state') {
    for (const d of data.devices) {
      const cur = store.devices.get(d.id);
      if (cur) Object.assign(cur, { state: d.state, since: d.since, reason: d.reason, lastSeen: d.lastSeen });
    }
    store.updatedAt = Date.parse(data.time);
  } else if (type === 'transition') {
    const cur = store.devices.get(data.deviceId);
    if (cur) {
      Object.assign(cur, { state: data.to, since: data.ts, reason: data.reason });
      if (data.to !== 'UNKNOWN') cur.lastSeen = data.ts;
    }
    store.updatedAt = Date.parse(data.ts);
    const name = data.name ?? data.deviceId;
    if (data.to === 'DOWN') announce(t('announceDown', { name }));
    else if (data.from === 'DOWN' && data.to === 'UP') announce(t('announceUp', { name }));
  } else if (type === 'health') {
    store.updatedAt = Date.parse(data.time);
  }
  view?.onLive?.(type, data);
}

function setLiveStatus(status) {
  store.live = status;
  const el = document.getElementById('live-status');
  if (!el) return;
  el.className = `live live-${status}`;
  el.dataset.status = status;
  replace(el, h('span', { class: 'dot', 'aria-hidden': 'true' }), t(status === 'open' ? 'live' : status === 'lost' ? 'liveLost' : 'liveConnecting'));
}

// --- shell ----------------------------------------------------------------------
function shell() {
  const sess = store.session;
  const route = currentRoute();
  const link = (href, key, name) =>
    h('a', { href, class: route.name === name ? 'active' : undefined, 'aria-current': route.name === name ? 'page' : undefined, 'data-nav': name }, t(key));
  const header = h(
    'header',
    { class: 'topbar' },
    h('a', { class: 'skip', href: '#main', onclick: (e) => { e.preventDefault(); document.getElementById('main')?.focus(); } }, t('skip')),
    h(
      'div',
      { class: 'brand' },
      h('img', { src: '/ui/icon.svg', alt: '', width: 28, height: 28 }),
      h('div', {}, h('strong', {}, sess?.commune.name ?? 'commune-edge'), h('span', { class: 'sub' }, t('appTitle'), sess?.demo ? h('span', { class: 'tag-demo' }, t('demo')) : null)),
    ),
    sess
      ? h(
          'nav',
          { 'aria-label': t('appTitle') },
          link('#/', 'navOverview', 'overview'),
          link('#/indicators', 'navIndicators', 'indicators'),
          store.can('officer') ? link('#/admin', 'navAdmin', 'admin') : null,
        )
      : null,
    h(
      'div',
      { class: 'tools' },
      sess ? h('span', { id: 'live-status', class: 'live', role: 'status' }) : null,
      h('button', { type: 'button', class: 'btn-lang', id: 'lang-switch', lang: getLang() === 'vi' ? 'en' : 'vi', 'aria-label': t('langSwitchLabel'), onclick: switchLanguage }, t('langSwitch')),
      sess
        ? h(
            'span',
            { class: 'user', 'data-role': sess.role },
            h('span', { class: 'user-name' }, sess.name),
            h('span', { class: 'user-role' }, t(`role_${sess.role}`)),
          )
        : null,
      sess ? h('button', { type: 'button', class: 'btn-quiet', id: 'logout', onclick: logout }, t('logout')) : null,
    ),
  );
  const main = h('main', { id: 'main', tabindex: '-1' });
  replace(app, header, main, h('div', { id: 'announce', class: 'sr-only', 'aria-live': 'polite' }));
  if (sess) setLiveStatus(store.live);
  return main;
}

function switchLanguage() {
  setLang(getLang() === 'vi' ? 'en' : 'vi');
  render();
  document.getElementById('lang-switch')?.focus();
}

function logout() {
  stream?.close();
  stream = null;
  setToken(null);
  store.session = null;
  location.hash = '#/';
  render();
}

// --- routing --------------------------------------------------------------------
function currentRoute() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, qs] = raw.split('?');
  const query = new URLSearchParams(qs ?? '');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'device' && parts[1]) return { name: 'device', params: { id: parts[1] }, query };
  if (parts[0] === 'indicators') return { name: 'indicators', params: {}, query };
  if (parts[0] === 'admin') return { name: 'admin', params: {}, query };
  return { name: 'overview', params: {}, query };
}

function render() {
  document.documentElement.lang = getLang();
  view?.dispose?.();
  view = null;
  const main = shell();
  if (!store.session) {
    document.title = `${t('loginTitle')} · ${t('appTitle')}`;
    view = renderLogin(main, { onLogin: start });
    return;
  }
  const route = currentRoute();
  const ctx = { store, params: route.params, query: route.query };
  const views = { overview: renderOverview, device: renderDevice, indicators: renderIndicators, admin: renderAdmin };
  view = views[route.name](main, ctx) ?? null;
}

// --- start ------------------------------------------------------------------------
async function loadInventory() {
  const [kinds, hamlets, devices] = await Promise.all([api('/api/kinds'), api('/api/hamlets'), api('/api/devices')]);
  store.kinds = new Map(kinds.kinds.map((k) => [k.id, k]));
  store.hamlets = hamlets.hamlets.map((x) => ({ id: x.id, name: x.name }));
  store.devices = new Map(devices.devices.map((d) => [d.id, d]));
}

async function start(session) {
  store.session = session;
  setTimeZone(session.timezone);
  try {
    await loadInventory();
  } catch (err) {
    const main = shell();
    replace(main, message(t('loadFailed', { msg: err.message }), 'error'), h('button', { type: 'button', onclick: () => start(session) }, t('retry')));
    return;
  }
  stream?.close();
  stream = liveStream({ onEvent: onLiveEvent, onStatus: setLiveStatus });
  render();
}

async function boot() {
  document.documentElement.lang = getLang();
  setUnauthorizedHandler(() => {
    stream?.close();
    stream = null;
    setToken(null);
    store.session = null;
    render();
  });
  window.addEventListener('hashchange', () => {
    render();
    document.getElementById('main')?.focus({ preventScroll: true });
  });
  const token = getToken();
  if (token) {
    try {
      await start(await api('/api/session'));
      return;
    } catch {
      setToken(null);
    }
  }
  render();
}

boot();
