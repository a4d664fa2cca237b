// Open alerts (GET /api/alerts, viewer): shown on the overview to everyone;
// acknowledging one (POST /api/alerts/:key/ack) stops its repeats and needs the
// officer role, so the button exists only for officer and admin tokens (the API
// answers a viewer 403 CE_FORBIDDEN anyway).
import { api, ApiError } from '../api.js';
import { h, replace, stateIcon } from '../dom.js';
import { fmtDateTime, fmtRelative, reasonText, t } from '../i18n.js';

const SEVERITY_STATE = { critical: 'DOWN', warning: 'DEGRADED' };

function alertItem(a, store, reload) {
  const hamlet = a.subject.hamlet ? store.hamlets.find((x) => x.id === a.subject.hamlet)?.name ?? a.subject.hamlet : null;
  const since = Date.parse(a.since);
  const subject = a.subject.type === 'device' ? h('a', { href: `#/device/${encodeURIComponent(a.subject.id)}` }, a.subject.name) : h('span', {}, a.subject.name);
  return h(
    'li',
    { 'data-alert': a.key, class: `sev-${a.severity}` },
    stateIcon(SEVERITY_STATE[a.severity] ?? 'DEGRADED', 18),
    h(
      'div',
      { class: 'alert-main' },
      h('strong', {}, subject),
      h('span', { class: 'muted small' }, [t(`sev_${a.severity}`), hamlet, a.detail ? reasonText(a.detail) : null].filter(Boolean).join(' · ')),
      h('span', { class: 'muted small' }, h('time', { datetime: a.since, title: fmtDateTime(since) }, t('since', { time: fmtDateTime(since) })), ` (${fmtRelative(since)})`, a.firing ? ` · ${t('alertSent')}` : ''),
    ),
    a.ackedBy
      ? h('span', { class: 'acked small' }, t('ackedBy', { name: a.ackedBy }))
      : store.can('officer')
        ? h(
            'button',
            {
              type: 'button',
              class: 'btn',
              'data-action': 'ack',
              onclick: async (e) => {
                const btn = e.currentTarget;
                btn.disabled = true;
                try {
                  await api(`/api/alerts/${encodeURIComponent(a.key)}/ack`, { method: 'POST' });
                } catch (err) {
                  btn.replaceWith(h('span', { class: 'msg msg-error small', role: 'alert' }, t('loadFailed', { msg: err.message })));
                  return;
                }
                await reload();
              },
            },
            t('acknowledge'),
          )
        : null,
  );
}

/** The alerts card; `refresh()` re-reads the list (after transitions, every 30 s). */
export function alertsCard(store) {
  const body = h('div', {}, h('p', { class: 'muted' }, t('loading')));
  const count = h('span', { class: 'count', 'data-count': 0 }, '0');
  const card = h('section', { class: 'card alerts', 'aria-labelledby': 'h-alerts', 'data-section': 'alerts' }, h('h2', { id: 'h-alerts' }, t('alerts'), count), body);
  let hidden = false;
  const refresh = async () => {
    if (hidden) return;
    try {
      const { alerts } = await api('/api/alerts');
      count.textContent = String(alerts.length);
      count.dataset.count = String(alerts.length);
      replace(body, alerts.length ? h('ul', { class: 'alert-list' }, alerts.map((a) => alertItem(a, store, refresh))) : h('p', { class: 'all-good' }, stateIcon('UP', 20), t('alertsNone')));
    } catch (err) {
      // Alerts are an optional part: without the route, the card goes away.
      if (err instanceof ApiError && err.status === 404) {
        hidden = true;
        card.hidden = true;
      } else replace(body, h('p', { class: 'msg msg-error' }, t('loadFailed', { msg: err.message })));
    }
  };
  void refresh();
  return { card, refresh };
}
