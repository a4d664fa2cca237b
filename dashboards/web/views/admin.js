// Administration (officer and admin only; the API enforces the same roles):
// rejected MQTT messages (GET /api/rejects), points a sink quarantined
// (GET /api/sinks/:id/quarantine), alert notices (GET /api/alerts/outbox), the
// IOC outbox and the messages the province receiver refused (GET /api/ioc/outbox,
// /api/ioc/parked). A part not enabled on this gateway (404) says so.
import { api, ApiError } from '../api.js';
import { h, message, replace, section } from '../dom.js';
import { fmtDateTime, fmtDuration, fmtRelative, t } from '../i18n.js';

function table(cols, rows) {
  return h(
    'table',
    { class: 'table compact' },
    h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, t(c))))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((cell, i) => h('td', { 'data-label': t(cols[i]) }, cell))))),
  );
}

/** A card filled by `load`; 404 CE_NOT_FOUND = the part is not enabled here. */
function asyncSection(title, id, load) {
  const body = h('div', {}, h('p', { class: 'muted' }, t('loading')));
  const card = section(title, body);
  card.dataset.section = id;
  (async () => {
    try {
      replace(body, await load());
    } catch (err) {
      const off = err instanceof ApiError && err.status === 404 && err.code === 'CE_NOT_FOUND';
      replace(body, off ? h('p', { class: 'muted' }, t('notEnabled')) : message(t('loadFailed', { msg: err.message }), 'error'));
    }
  })();
  return card;
}

const STRINGS_PHASE = { fire: 'phase_fire', repeat: 'phase_repeat', recover: 'phase_recover' };
const time = (iso) => (iso ? fmtDateTime(Date.parse(iso)) : '—');

function rejectsSection() {
  return asyncSection(t('rejects'), 'rejects', async () => {
    const { rejects } = await api('/api/rejects?limit=50');
    if (!rejects.length) return h('p', { class: 'muted' }, t('rejectsNone'));
    return table(
      ['time', 'code', 'client', 'topic', 'detail'],
      rejects.map((r) => [time(r.ts), h('code', {}, r.code), r.client ?? '—', r.topic ? h('code', {}, r.topic) : '—', r.detail]),
    );
  });
}

function quarantineSection(sinkId) {
  return asyncSection(t('quarantine', { sink: sinkId }), `quarantine-${sinkId}`, async () => {
    const q = await api(`/api/sinks/${encodeURIComponent(sinkId)}/quarantine?limit=20`);
    if (!q.points.length) return h('p', { class: 'muted' }, t('quarantineNone'));
    return table(
      ['time', 'detail', 'message'],
      q.points.map((p) => [time(p.quarantinedAt), p.reason, h('code', { class: 'clip' }, JSON.stringify(p.point).slice(0, 200))]),
    );
  });
}

function alertOutboxSection() {
  return asyncSection(t('alertOutbox'), 'alert-outbox', async () => {
    const { notices } = await api('/api/alerts/outbox?limit=30');
    if (!notices.length) return h('p', { class: 'muted' }, t('alertOutboxNone'));
    return table(
      ['time', 'channel', 'message', 'attempts', 'detail'],
      notices.map((n) => [
        time(n.createdAt),
        n.channel,
        `${STRINGS_PHASE[n.phase] ? t(STRINGS_PHASE[n.phase]) : n.phase}: ${n.key}`,
        String(n.attempts),
        n.parked ? `${t('parked')}: ${n.lastError ?? ''}` : n.sentAt ? `${t('sent')} ${time(n.sentAt)}` : `${t('pending')}${n.lastError ? `: ${n.lastError}` : ''}`,
      ]),
    );
  });
}

function iocSection() {
  return asyncSection(t('iocOutbox'), 'ioc', async () => {
    const [o, parked] = await Promise.all([api('/api/ioc/outbox'), api('/api/ioc/parked?limit=20')]);
    const facts = h(
      'dl',
      { class: 'facts' },
      h('div', {}, h('dt', {}, t('iocDepth')), h('dd', {}, String(o.depth))),
      h('div', {}, h('dt', {}, t('iocOldest')), h('dd', {}, o.oldestAgeS === null ? '—' : fmtDuration(o.oldestAgeS * 1000))),
      h('div', {}, h('dt', {}, t('iocLastSuccess')), h('dd', {}, o.lastSuccessAt ? `${time(o.lastSuccessAt)} (${fmtRelative(Date.parse(o.lastSuccessAt))})` : '—')),
      h('div', {}, h('dt', {}, t('iocLastError')), h('dd', {}, o.lastError ? `${time(o.lastErrorAt)}: ${o.lastError}` : '—')),
    );
    return h(
      'div',
      {},
      facts,
      h('h3', { class: 'sub-h' }, t('outbox')),
      parked.messages.length
        ? table(
            ['time', 'code', 'detail'],
            parked.messages.map((m) => [time(m.parkedAt), `${m.type} #${m.seq} (HTTP ${m.httpStatus})`, m.reason]),
          )
        : h('p', { class: 'muted' }, t('outboxNone')),
    );
  });
}

export function renderAdmin(main, { store }) {
  document.title = `${t('adminTitle')} · ${store.session.commune.name}`;
  if (!store.can('officer')) {
    replace(main, h('h1', {}, t('adminTitle')), message(t('forbidden'), 'error'));
    return null;
  }
  const sinks = h('div', { class: 'stack', hidden: true });
  replace(main, h('div', { class: 'page-head' }, h('h1', {}, t('adminTitle'))), rejectsSection(), sinks, alertOutboxSection(), iocSection());
  api('/api/health')
    .then((health) => {
      if (!health.sinks.length) return;
      sinks.hidden = false;
      replace(sinks, health.sinks.map((s) => quarantineSection(s.id)));
    })
    .catch(() => undefined);
  return null;
}
