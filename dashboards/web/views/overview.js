// Overview: counts by state, what is down now (by importance, since when),
// counts by kind and state, and every hamlet as a tile of its devices. Kept
// current by the live stream without reloading.
import { h, replace, stateIcon } from '../dom.js';
import { fmtDateTime, fmtRelative, label, reasonText, t } from '../i18n.js';
import { importance, scheduleRender } from '../state.js';
import { alertsCard } from './alerts.js';

const STATES = ['UP', 'DEGRADED', 'DOWN', 'UNKNOWN'];
const WORST = ['DOWN', 'DEGRADED', 'UNKNOWN', 'UP'];

function counts(devices) {
  const c = { UP: 0, DEGRADED: 0, DOWN: 0, UNKNOWN: 0 };
  for (const d of devices) c[d.state]++;
  return c;
}

function worstOf(devices) {
  for (const s of WORST) if (devices.some((d) => d.state === s)) return s;
  return 'UNKNOWN';
}

export function deviceRole(d) {
  return d.role ? t(`dr_${d.role}`) : '';
}

function statCards(c, total) {
  return h(
    'div',
    { class: 'stats', role: 'list' },
    STATES.map((st) =>
      h(
        'div',
        { class: `stat st-${st}`, role: 'listitem', 'data-stat': st },
        stateIcon(st, 22),
        h('span', { class: 'stat-n' }, String(c[st])),
        h('span', { class: 'stat-l' }, t(`state_${st}`)),
      ),
    ),
    h('div', { class: 'stat st-total', role: 'listitem', 'data-stat': 'total' }, h('span', { class: 'stat-n' }, String(total)), h('span', { class: 'stat-l' }, t('total'))),
  );
}

function downNow(store, now) {
  const hamletName = new Map(store.hamlets.map((x) => [x.id, x.name]));
  const down = [...store.devices.values()]
    .filter((d) => d.state === 'DOWN')
    .sort((a, b) => importance(a) - importance(b) || Date.parse(a.since) - Date.parse(b.since));
  const body = down.length
    ? h(
        'ul',
        { class: 'down-list' },
        down.map((d) => {
          const since = Date.parse(d.since);
          const kind = store.kinds.get(d.kind);
          return h(
            'li',
            { 'data-down': d.id },
            h(
              'a',
              { href: `#/device/${encodeURIComponent(d.id)}`, 'data-key': `down-${d.id}` },
              stateIcon('DOWN', 20),
              h(
                'span',
                { class: 'down-main' },
                h('strong', {}, d.name),
                h('span', { class: 'muted' }, [label(kind?.label ?? d.kindLabel), d.role === 'hamlet' ? '' : deviceRole(d), hamletName.get(d.hamlet) ?? d.hamlet].filter(Boolean).join(' · ')),
                h('span', { class: 'reason' }, reasonText(d.reason)),
              ),
              h(
                'span',
                { class: 'down-since' },
                h('time', { datetime: d.since, title: fmtDateTime(since) }, fmtRelative(since, now)),
                h('span', { class: 'muted small' }, t('since', { time: fmtDateTime(since) })),
              ),
            ),
          );
        }),
      )
    : h('p', { class: 'all-good' }, stateIcon('UP', 20), t('downNone'));
  return h('section', { class: 'card down-now', 'aria-labelledby': 'h-down' }, h('h2', { id: 'h-down' }, t('downNow'), h('span', { class: 'count', 'data-count': down.length }, String(down.length))), body);
}

function byKind(store) {
  const rows = [];
  for (const [id, kind] of store.kinds) {
    const ds = [...store.devices.values()].filter((d) => d.kind === id);
    if (!ds.length) continue;
    const c = counts(ds);
    rows.push(
      h(
        'tr',
        { 'data-kind': id },
        h('th', { scope: 'row' }, label(kind.label)),
        STATES.map((st) => h('td', { class: c[st] ? `n st-${st}` : 'n zero', 'data-label': t(`state_${st}`) }, String(c[st]))),
        h('td', { class: 'n', 'data-label': t('total') }, String(ds.length)),
      ),
    );
  }
  return h(
    'section',
    { class: 'card by-kind', 'aria-labelledby': 'h-kind' },
    h('h2', { id: 'h-kind' }, t('byKind')),
    h(
      'table',
      { class: 'table compact' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('kind')), STATES.map((st) => h('th', { scope: 'col', class: 'n' }, stateIcon(st, 14), h('span', { class: 'th-l' }, t(`state_${st}`)))), h('th', { scope: 'col', class: 'n' }, t('total')))),
      h('tbody', {}, rows),
    ),
  );
}

function hamletTiles(store) {
  const byHamlet = new Map(store.hamlets.map((x) => [x.id, []]));
  for (const d of store.devices.values()) byHamlet.get(d.hamlet)?.push(d);
  return h(
    'section',
    { class: 'hamlets', 'aria-labelledby': 'h-hamlets' },
    h('h2', { id: 'h-hamlets' }, t('hamlets')),
    h(
      'div',
      { class: 'tiles' },
      store.hamlets.map((hm) => {
        const ds = (byHamlet.get(hm.id) ?? []).slice().sort((a, b) => importance(a) - importance(b) || a.name.localeCompare(b.name, 'vi'));
        const c = counts(ds);
        const worst = ds.length ? worstOf(ds) : 'UNKNOWN';
        return h(
          'article',
          { class: `tile worst-${worst}${ds.length > 8 ? ' wide' : ''}`, 'data-hamlet': hm.id, 'data-worst': worst, 'aria-labelledby': `hm-${hm.id}` },
          h(
            'header',
            {},
            h('h3', { id: `hm-${hm.id}` }, hm.name),
            h('span', { class: 'muted small' }, t('devicesCount', { n: ds.length }), c.DOWN ? h('strong', { class: 'down-n' }, ` · ${t('hamletDown', { n: c.DOWN })}`) : null),
          ),
          ds.length
            ? h(
                'ul',
                { class: 'chips' },
                ds.map((d) =>
                  h(
                    'li',
                    {},
                    h(
                      'a',
                      {
                        class: `chip st-${d.state}`,
                        href: `#/device/${encodeURIComponent(d.id)}`,
                        'data-device': d.id,
                        'data-state': d.state,
                        'data-key': `chip-${d.id}`,
                        title: `${d.name}: ${t(`state_${d.state}`)}${d.reason ? ` (${reasonText(d.reason)})` : ''}`,
                        'aria-label': `${d.name}: ${t(`state_${d.state}`)}`,
                      },
                      stateIcon(d.state, 14),
                      h('span', {}, d.name),
                    ),
                  ),
                ),
              )
            : h('p', { class: 'muted small' }, t('hamletNoDevices')),
        );
      }),
    ),
  );
}

export function renderOverview(main, { store }) {
  document.title = `${t('overviewTitle')} · ${store.session.commune.name}`;
  // Kept across redraws (its list is fetched, not derived from the store).
  const alerts = alertsCard(store);
  const draw = () => {
    const focusKey = document.activeElement instanceof HTMLElement ? document.activeElement.dataset.key : undefined;
    const now = Date.now();
    const devices = [...store.devices.values()];
    replace(
      main,
      h(
        'div',
        { class: 'page-head' },
        h('h1', {}, t('overviewTitle')),
        store.updatedAt ? h('span', { class: 'muted small', id: 'updated-at' }, t('updatedAt', { time: fmtDateTime(store.updatedAt) })) : null,
      ),
      statCards(counts(devices), devices.length),
      h('div', { class: 'grid-2' }, downNow(store, now), h('div', { class: 'stack' }, alerts.card, byKind(store))),
      hamletTiles(store),
    );
    if (focusKey) main.querySelector(`[data-key="${CSS.escape(focusKey)}"]`)?.focus();
  };
  draw();
  // Relative times ("3 phút trước") age: redraw every 30 s.
  const timer = setInterval(() => {
    scheduleRender(draw);
    void alerts.refresh();
  }, 30_000);
  // Alert rules fire after their own delay: look again a little after a change.
  let alertTimer = null;
  return {
    onLive: (type) => {
      scheduleRender(draw);
      if (type === 'transition') {
        clearTimeout(alertTimer);
        alertTimer = setTimeout(() => void alerts.refresh(), 2000);
      }
    },
    dispose: () => {
      clearInterval(timer);
      clearTimeout(alertTimer);
    },
  };
}
