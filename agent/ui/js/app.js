// The dashboard: wires the panels to the agent. One WebSocket to /ws feeds the anomaly list,
// the chart and the counters; the other panels poll their endpoints while the tab is visible.
// Each panel fails on its own: an endpoint that is missing or down shows one line there.

import { getJson, setToken, token, wsUrl } from './api.js';
import { AnomalyFeed } from './feed.js';
import { ChatPanel } from './chat.js';
import { count, fill, note } from './dom.js';
import { LogSearch } from './search.js';
import { refreshStatus } from './status.js';
import { refreshSummaries } from './summaries.js';
import { refreshTop } from './top.js';
import { TrafficChart } from './chart.js';

const $ = (id) => document.getElementById(id);

const chart = new TrafficChart($('chart'), $('chart-caption'));
const feed = new AnomalyFeed($('feed'), $('feed-caption'));
const search = new LogSearch($('search-form'), $('search-results'));
new ChatPanel($('chat-form'), $('chat-transcript'));

function setCounters(stats) {
  $('stat-events').textContent = count(stats.events_total);
  $('stat-anomalies').textContent = count(stats.anomalies_total);
  if (stats.rejected_total !== undefined) $('stat-rejected').textContent = count(stats.rejected_total);
  const queue = stats.queues?.pipeline ?? stats.queue;
  if (queue !== undefined) $('stat-queue').textContent = count(queue);
}

/** Say in a panel why it has nothing to show, and whether it is the token. */
function panelError(node, what, error) {
  fill(node, note(error.describe ? error.describe(what) : String(error), error.unavailable ? 'muted' : 'error'));
}

// --- live updates over /ws ---------------------------------------------------------------

let socket = null;
let retry = 1_000;

function connect() {
  const live = $('live');
  live.textContent = 'connecting…';
  live.className = 'pill';
  socket = new WebSocket(wsUrl('/ws'));
  socket.addEventListener('open', () => {
    retry = 1_000;
    live.textContent = 'live';
    live.className = 'pill good';
  });
  socket.addEventListener('message', (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (message.type === 'anomaly') feed.onAnomaly(message);
    else if (message.type === 'ack') {
      chart.onAck(message);
      statsSoon();
    }
    else if (message.type === 'stats') setCounters(message);
    else if (message.type === 'lagged') feed.onLagged(message.missed);
    else if (message.type === 'summary') refreshSummaries($('summaries'));
  });
  socket.addEventListener('close', (event) => {
    // 1008 or a refused upgrade (1006 before open) with a token set usually means a bad token.
    live.textContent = token() || event.code !== 1006 ? 'disconnected' : 'disconnected (token?)';
    live.className = 'pill bad';
    setTimeout(connect, retry);
    retry = Math.min(retry * 2, 30_000);
  });
}

// --- polling panels ----------------------------------------------------------------------

async function refreshStats() {
  try {
    setCounters(await getJson('/api/v1/stats'));
  } catch {
    // The counters keep their last values; the status panel says what is wrong.
  }
}

let statsTimer = null;

/** Refresh the counters shortly after traffic, at most once a second. */
function statsSoon() {
  statsTimer ??= setTimeout(() => {
    statsTimer = null;
    refreshStats();
  }, 1_000);
}

async function refreshTopPanel() {
  try {
    await refreshTop($('top-ips'), $('top-urls'), $('top-caption'));
  } catch (e) {
    panelError($('top-ips'), 'Top IPs', e);
    fill($('top-urls'));
  }
}

function refreshAll() {
  refreshStatus($('status'), $('health'), $('version'));
  refreshStats();
  refreshTopPanel();
  refreshSummaries($('summaries'));
}

function every(ms, task) {
  setInterval(() => {
    if (document.visibilityState === 'visible') task();
  }, ms);
}

async function start() {
  connect();
  chart.loadHistory().catch((e) => fill($('chart-caption'), note(e.describe('The history'), 'error')));
  feed.loadRecent().catch((e) => feed.unavailable(e.describe('Stored anomalies')));
  refreshAll();
  search.search();
  every(10_000, () => refreshStatus($('status'), $('health'), $('version')));
  every(15_000, refreshStats);
  every(20_000, refreshTopPanel);
  every(60_000, () => refreshSummaries($('summaries')));
  // Redraw once a minute so the chart's time axis moves even when nothing happens.
  every(60_000, () => chart.draw());
}

// --- the token ---------------------------------------------------------------------------

const tokenForm = $('token-form');
tokenForm.elements.token.value = token();
tokenForm.addEventListener('submit', (event) => {
  event.preventDefault();
  setToken(tokenForm.elements.token.value.trim());
  // Everything reconnects with the new token: simplest is a fresh page.
  location.reload();
});

start();
