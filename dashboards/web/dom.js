// Tiny DOM helpers. Text always goes in as text nodes (never innerHTML), so a
// device or hamlet name from the config can never become markup (the page also
// runs under a strict Content-Security-Policy, see gateway/api/dashboard.ts).
import { t } from './i18n.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class' && Array.isArray(v)) el.setAttribute('class', v.filter(Boolean).join(' '));
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** `h('a', { href, class }, 'text', child)` */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** The same for SVG elements. */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function replace(el, ...children) {
  el.replaceChildren();
  return build(el, {}, children);
}

/**
 * State icon: a different shape per state (check, triangle, cross, question
 * mark), so the state never depends on colour alone (WCAG 2.1 SC 1.4.1).
 */
export function stateIcon(state, size = 16) {
  const paths = {
    UP: [s('circle', { cx: 8, cy: 8, r: 7.5, class: 'ic-bg' }), s('path', { d: 'M4.5 8.3l2.3 2.3 4.7-4.9', class: 'ic-fg' })],
    DEGRADED: [s('path', { d: 'M8 .8l7.4 13.4H.6z', class: 'ic-bg' }), s('path', { d: 'M8 5.4v4.2M8 11.6v.1', class: 'ic-fg' })],
    DOWN: [s('circle', { cx: 8, cy: 8, r: 7.5, class: 'ic-bg' }), s('path', { d: 'M5.2 5.2l5.6 5.6M10.8 5.2l-5.6 5.6', class: 'ic-fg' })],
    UNKNOWN: [
      s('circle', { cx: 8, cy: 8, r: 7.5, class: 'ic-bg' }),
      s('path', { d: 'M6 6.2a2 2 0 1 1 2.6 1.9c-.5.2-.6.5-.6 1v.6M8 11.6v.1', class: 'ic-fg' }),
    ],
  };
  return s('svg', { class: `icon st-${state}`, width: size, height: size, viewBox: '0 0 16 16', 'aria-hidden': 'true', focusable: 'false' }, paths[state] ?? paths.UNKNOWN);
}

/** Icon and word: the badge used wherever a state is shown. */
export function stateBadge(state) {
  return h('span', { class: `badge st-${state}`, 'data-state': state }, stateIcon(state), h('span', {}, t(`state_${state}`)));
}

export function section(title, ...children) {
  return h('section', { class: 'card' }, h('h2', {}, title), ...children);
}

export function message(text, kind = 'info') {
  return h('p', { class: `msg msg-${kind}`, role: kind === 'error' ? 'alert' : undefined }, text);
}
