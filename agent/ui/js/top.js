// Top client IPs and URLs among the most recent events, counted in the page from
// /api/v1/logs (the API has no aggregate endpoint for them).

import { getJson } from './api.js';
import { count, el, fill, note } from './dom.js';

/** Recent events counted. */
const SAMPLE = 2_000;
const SHOWN = 8;

export async function refreshTop(ipsNode, urlsNode, captionNode) {
  const { logs } = await getJson('/api/v1/logs', { limit: SAMPLE });
  fill(captionNode, `in the latest ${count(logs.length)} events`);
  fill(ipsNode, table(tally(logs, (l) => l.ip), 'IP'));
  fill(urlsNode, table(tally(logs, (l) => l.url && `${l.method} ${l.url.split('?')[0]}`), 'Request'));
}

function tally(logs, key) {
  const counts = new Map();
  const anomalies = new Map();
  for (const log of logs) {
    const k = key(log);
    if (!k) continue;
    counts.set(k, (counts.get(k) ?? 0) + 1);
    if (log.anomalous) anomalies.set(k, (anomalies.get(k) ?? 0) + 1);
  }
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, SHOWN)
    .map(([k, n]) => ({ key: k, n, anomalies: anomalies.get(k) ?? 0 }));
}

function table(rows, label) {
  if (!rows.length) return note('No events yet.');
  const max = rows[0].n;
  return el(
    'table',
    { class: 'top' },
    el('thead', {}, el('tr', {}, el('th', {}, label), el('th', { class: 'num' }, 'Events'), el('th', { class: 'num' }, 'Anom.'))),
    el(
      'tbody',
      {},
      rows.map((r) =>
        el(
          'tr',
          {},
          el('td', { class: 'key', title: r.key }, bar((100 * r.n) / max), r.key),
          el('td', { class: 'num' }, count(r.n)),
          el('td', { class: r.anomalies ? 'num hot' : 'num muted' }, count(r.anomalies)),
        ),
      ),
    ),
  );
}

/** A proportional bar behind a row (a CSSOM width: the page's policy allows no inline styles). */
function bar(percent) {
  const node = el('span', { class: 'bar' });
  node.style.width = `${percent.toFixed(1)}%`;
  return node;
}
