// Agent and plugin status: /health (always open) and /api/v1/plugins (when this agent has it;
// otherwise the detectors that /health lists).

import { getJson } from './api.js';
import { clock, count, el, fill, note } from './dom.js';

/** Fields of /health shown by the header or the detector list, not as extra facts. */
const KNOWN = new Set(['status', 'timestamp', 'version', 'uptime_seconds', 'detectors', 'summarizers', 'config', 'chroma']);

export async function refreshStatus(node, pill, version) {
  let health;
  try {
    health = await getJson('/health');
  } catch (e) {
    pill.textContent = 'unreachable';
    pill.className = 'pill bad';
    fill(node, note(e.describe ? e.describe('The agent') : String(e), 'error'));
    return;
  }
  pill.textContent = health.status;
  pill.className = `pill ${health.status === 'healthy' ? 'good' : 'warn'}`;
  version.textContent = health.version ? `v${health.version}` : '';

  let plugins = null;
  let pluginNote = null;
  try {
    const answer = await getJson('/api/v1/plugins');
    // `{detectors: [...], summarizers: [...]}`: every kind of plugin in one table.
    plugins = Array.isArray(answer)
      ? answer
      : Object.entries(answer ?? {}).flatMap(([kind, list]) =>
          Array.isArray(list) ? list.map((p) => ({ kind: p.kind ?? kind.replace(/s$/, ''), ...p })) : [],
        );
  } catch (e) {
    pluginNote = e.unavailable ? 'Plugin details (/api/v1/plugins) are not available in this version; detectors from /health:' : e.describe('Plugins');
  }
  const extra = Object.entries(health).filter(([k]) => !KNOWN.has(k));
  fill(
    node,
    el(
      'dl',
      { class: 'facts' },
      el('dt', {}, 'status'),
      el('dd', {}, health.status),
      el('dt', {}, 'uptime'),
      el('dd', {}, uptime(health.uptime_seconds)),
      health.config ? configFacts(health.config) : null,
      health.chroma ? chromaFacts(health.chroma) : null,
      extra.map(([k, v]) => [el('dt', {}, k.replaceAll('_', ' ')), el('dd', {}, describe(v))]),
    ),
    configErrors(health.config),
    pluginNote ? note(pluginNote) : null,
    pluginTable(plugins ?? health.detectors ?? []),
  );
}

function pluginTable(plugins) {
  if (!plugins.length) return note('No plugins loaded.');
  return el(
    'table',
    { class: 'plugins' },
    el('thead', {}, el('tr', {}, ['Plugin', 'Kind', 'State', 'Calls', 'Failures'].map((h) => el('th', {}, h)))),
    el(
      'tbody',
      {},
      plugins.map((p) =>
        el(
          'tr',
          { title: p.last_error ?? p.source ?? '' },
          el('td', {}, `${p.name ?? '?'} ${p.version ?? ''}`),
          el('td', { class: 'muted' }, kindOf(p)),
          el('td', {}, el('span', { class: `pill ${p.state === 'ready' ? 'good' : 'warn'}` }, p.state ?? '?')),
          el('td', { class: 'num' }, count(p.calls)),
          el('td', { class: p.failures ? 'num hot' : 'num' }, count(p.failures)),
        ),
      ),
    ),
  );
}

/** "detector ≥ 0.6", "summarizer per 1 min". */
function kindOf(p) {
  if (p.threshold !== undefined) return `${p.kind ?? 'detector'} ≥ ${p.threshold}`;
  if (typeof p.window_ms === 'number') return `${p.kind ?? 'summarizer'} per ${windowLength(p.window_ms)}`;
  return p.kind ?? '';
}

function windowLength(ms) {
  const s = ms / 1000;
  return s % 3600 === 0 ? `${s / 3600} h` : s % 60 === 0 ? `${s / 60} min` : `${s} s`;
}

/** The config file, whether it is watched, and its last reload. */
function configFacts(config) {
  const reload = config.last_reload;
  const facts = [
    el('dt', {}, 'config'),
    el('dd', {}, config.file ?? '–', config.watching ? el('span', { class: 'muted' }, ' (watched)') : null),
  ];
  if (reload) {
    const outcome = el('span', { class: reload.outcome === 'refused' ? 'hot' : undefined }, reload.outcome);
    facts.push(el('dt', {}, 'last reload'), el('dd', {}, outcome, ` at ${clock(reload.at)} (${reload.trigger})`));
  }
  if (config.needs_restart?.length) {
    facts.push(el('dt', {}, 'needs restart'), el('dd', { class: 'hot' }, config.needs_restart.join(', ')));
  }
  return facts;
}

/** A refused config's errors, one per line, as the agent words them. */
function configErrors(config) {
  const errors = config?.last_reload?.outcome === 'refused' ? config.last_reload.errors ?? [] : [];
  if (!errors.length) return null;
  return el(
    'ul',
    { class: 'config-errors' },
    errors.map((e) => el('li', {}, typeof e === 'string' ? e : configError(e))),
  );
}

/** "vigil.toml:3:1: detectors[0].threshold: must be in [0, 1] (hint: ...)" */
function configError(e) {
  const where = [e.file, e.line, e.column].filter((part) => part !== null && part !== undefined).join(':');
  const field = e.field ? `${e.field}: ` : '';
  return `${where ? `${where}: ` : ''}${field}${e.message ?? ''}${e.hint ? ` (hint: ${e.hint})` : ''}`;
}

/** The link to Chroma and what waits in the outbox for it. */
function chromaFacts(chroma) {
  const waiting = chroma.outbox ? (chroma.outbox.events ?? 0) + (chroma.outbox.records ?? 0) : 0;
  return [
    el('dt', {}, 'chroma'),
    el(
      'dd',
      {},
      el('span', { class: `pill ${chroma.state === 'up' ? 'good' : chroma.state === 'down' ? 'bad' : ''}` }, chroma.state),
      ` ${chroma.url ?? ''}`,
      waiting ? el('span', { class: 'muted' }, ` · ${count(waiting)} waiting in the outbox`) : null,
      chroma.state === 'down' && chroma.last_error ? el('div', { class: 'hot' }, chroma.last_error) : null,
    ),
  ];
}

function uptime(seconds) {
  if (typeof seconds !== 'number') return '–';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return h ? `${h} h ${m} min` : m ? `${m} min ${seconds % 60} s` : `${seconds} s`;
}

/** A short text for a /health field of any shape. */
function describe(value) {
  if (value === null || value === undefined) return '–';
  if (typeof value !== 'object') return String(value);
  if (Array.isArray(value)) return `${value.length} item(s)`;
  if (typeof value.state === 'string') return value.error ? `${value.state}: ${value.error}` : value.state;
  return JSON.stringify(value).slice(0, 120);
}
