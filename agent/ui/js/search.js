// Log search over /api/v1/logs: the API's own filters (text, IP, status or class, time
// range, anomalies only), newest first, with "older" paging by `before_id`.

import { getJson } from './api.js';
import { clock, count, el, fill, note, score, status } from './dom.js';

const PAGE = 50;

export class LogSearch {
  constructor(form, results) {
    this.form = form;
    this.results = results;
    this.params = null;
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.search();
    });
  }

  /** Run the form's search from the newest event. */
  search() {
    const data = new FormData(this.form);
    const since = Number(data.get('since'));
    this.params = {
      q: data.get('q').trim(),
      ip: data.get('ip').trim(),
      status: data.get('status').trim(),
      from: since ? new Date(Date.now() - since * 60_000).toISOString() : '',
      limit: PAGE,
    };
    this.anomaliesOnly = data.get('anomalies') === 'on';
    fill(this.results, note('Searching…'));
    return this.page(undefined, true);
  }

  async page(beforeId, fresh) {
    const path = this.anomaliesOnly ? '/api/v1/anomalies' : '/api/v1/logs';
    let answer;
    try {
      answer = await getJson(path, { ...this.params, before_id: beforeId });
    } catch (e) {
      fill(this.results, note(e.describe ? e.describe('Log search') : String(e), 'error'));
      return;
    }
    const rows = answer.logs ?? answer.anomalies ?? [];
    if (fresh) fill(this.results);
    this.results.querySelector('.more')?.remove();
    if (fresh && !rows.length) {
      fill(this.results, note('No stored event matches.'));
      return;
    }
    let body = this.results.querySelector('tbody');
    if (!body) {
      body = el('tbody');
      this.results.append(
        el(
          'table',
          { class: 'logs' },
          el('thead', {}, el('tr', {}, ['Time', 'Client', 'Request', 'Status', 'Bytes', 'Score', 'Source'].map((h) => el('th', {}, h)))),
          body,
        ),
      );
    }
    for (const log of rows) body.append(row(log));
    const shown = body.children.length;
    if (answer.next_before_id != null && rows.length === PAGE) {
      this.results.append(
        el(
          'p',
          { class: 'more' },
          `${count(shown)} shown. `,
          el('button', { type: 'button', onclick: () => this.page(answer.next_before_id, false) }, 'Older'),
        ),
      );
    }
  }
}

function row(log) {
  const request = log.url ? `${log.method} ${log.url}` : log.raw ?? '';
  return el(
    'tr',
    { class: log.anomalous || log.reason ? 'anomalous' : undefined },
    el('td', { class: 'nowrap' }, el('time', { datetime: log.timestamp }, clock(log.timestamp))),
    el('td', { class: 'nowrap' }, log.ip || '–'),
    el('td', { class: 'request', title: log.reason ? `${request}\n${log.reason}` : request }, request),
    el('td', {}, log.status_code ? status(log.status_code) : '–'),
    el('td', { class: 'num' }, count(log.bytes_sent)),
    el('td', {}, score(log.anomaly_score)),
    el('td', { class: 'muted nowrap' }, log.source ?? ''),
  );
}
