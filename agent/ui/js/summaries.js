// Summaries written by summarizer plugins, over /api/v1/summaries, newest first. The shape of
// a summary is the plugin's: the text is shown when there is one, and the other fields as
// short key/value pairs.

import { getJson } from './api.js';
import { clock, el, fill, note } from './dom.js';

const TEXT_FIELDS = ['text', 'summary', 'description'];
const TIME_FIELDS = ['window_start', 'from', 'start', 'started_at', 'timestamp'];
const END_FIELDS = ['window_end', 'to', 'end', 'ended_at'];

export async function refreshSummaries(node) {
  let answer;
  try {
    answer = await getJson('/api/v1/summaries', { from: new Date(Date.now() - 24 * 3_600_000).toISOString() });
  } catch (e) {
    fill(node, note(e.describe ? e.describe('Summaries') : String(e), e.unavailable ? 'muted' : 'error'));
    return;
  }
  const summaries = Array.isArray(answer) ? answer : answer?.summaries ?? [];
  if (!summaries.length) {
    fill(node, note('No summaries in the last 24 hours yet.'));
    return;
  }
  fill(node, el('ol', { class: 'summaries' }, summaries.slice(0, 30).map(item)));
}

function item(summary) {
  const start = first(summary, TIME_FIELDS);
  const end = first(summary, END_FIELDS);
  const text = first(summary, TEXT_FIELDS);
  const shown = new Set([...TEXT_FIELDS, ...TIME_FIELDS, ...END_FIELDS, 'id']);
  const facts = Object.entries(summary).filter(([k, v]) => !shown.has(k) && v !== null && typeof v !== 'object');
  return el(
    'li',
    {},
    el('div', { class: 'meta' }, start ? clock(start) : '', end ? ` – ${clock(end)}` : '', summary.plugin ? ` · ${summary.plugin}` : ''),
    text ? el('p', { class: 'summary-text' }, text) : null,
    facts.length
      ? el('dl', { class: 'facts' }, facts.slice(0, 8).map(([k, v]) => [el('dt', {}, k.replaceAll('_', ' ')), el('dd', {}, String(v))]))
      : null,
  );
}

function first(object, keys) {
  for (const key of keys) if (object[key] !== undefined && object[key] !== null) return object[key];
  return undefined;
}
