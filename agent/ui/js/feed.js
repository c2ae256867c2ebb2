// The live anomaly feed: the most recent anomalies from the store first, then each one
// announced on /ws as it is committed, newest on top, with the detector's reason.

import { getJson } from './api.js';
import { clock, el, fill, score, status } from './dom.js';

/** Anomalies kept on the page; older ones drop off the bottom. */
const KEEP = 200;

export class AnomalyFeed {
  constructor(list, summary) {
    this.list = list;
    this.summary = summary;
    this.seen = new Set();
    this.live = 0;
  }

  /** Show the latest stored anomalies. Throws the ApiError of /api/v1/anomalies. */
  async loadRecent() {
    const { anomalies } = await getJson('/api/v1/anomalies', { limit: 50 });
    // Oldest first, so that each goes on top of the one before it.
    for (const anomaly of anomalies.reverse()) this.add(anomaly, false);
    this.showEmpty();
  }

  /** An `anomaly` message from /ws. */
  onAnomaly(message) {
    this.live += 1;
    this.add(message, true);
    this.summary.textContent = `${this.live} live since this page opened`;
  }

  /** A `lagged` message: this page missed messages because it could not keep up. */
  onLagged(missed) {
    this.list.prepend(el('li', { class: 'lagged' }, `… ${missed} messages missed (the page fell behind)`));
  }

  showEmpty() {
    if (!this.list.children.length) fill(this.list, el('li', { class: 'empty' }, 'No anomalies yet.'));
  }

  add(a, fresh) {
    if (this.seen.has(a.id)) return;
    this.seen.add(a.id);
    this.list.querySelector('li.empty')?.remove();
    const item = el(
      'li',
      { class: fresh ? 'anomaly fresh' : 'anomaly', 'data-id': a.id },
      el(
        'div',
        { class: 'line' },
        score(a.anomaly_score),
        el('span', { class: 'method' }, a.method || '–'),
        el('span', { class: 'url', title: a.url }, a.url || '(no url)'),
        a.status_code ? status(a.status_code) : null,
      ),
      el(
        'div',
        { class: 'meta' },
        el('time', { datetime: a.timestamp }, clock(a.timestamp)),
        el('span', { class: 'ip' }, a.ip || '–'),
        el('span', { class: 'muted' }, [a.source, a.detector].filter(Boolean).join(' · ')),
      ),
      a.reason ? el('div', { class: 'reason' }, a.reason) : null,
    );
    this.list.prepend(item);
    while (this.list.children.length > KEEP) {
      const last = this.list.lastElementChild;
      this.seen.delete(Number(last.dataset.id));
      last.remove();
    }
  }

  /** Say why the history could not be shown; live anomalies still arrive. */
  unavailable(text) {
    if (!this.list.querySelector('li.anomaly')) fill(this.list, el('li', { class: 'empty' }, text));
  }
}
