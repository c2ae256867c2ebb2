// The dashboard in a real headless Chromium against the real `vigil` binary.
//
//   node tests/browser/ui.test.mjs path/to/vigil
//
// (`cargo test --test e2e browser` runs it with the binary cargo just built.) Needs
// `npm ci` in tests/browser and Debian's `chromium` at /usr/bin/chromium (or $CHROMIUM).
// Writes a screenshot to target/ui-screenshot.png.

import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const binary = process.argv[2] ?? process.env.VIGIL_BIN;
const browserPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const screenshot = join(repo, 'target', 'ui-screenshot.png');
/** Generous: Chromium on a busy 2-core machine. A bound on waiting, not an assertion on speed. */
const WAIT = 30_000;

if (!binary) {
  console.error('usage: node tests/browser/ui.test.mjs path/to/vigil (or set VIGIL_BIN)');
  process.exit(2);
}

// --- the agent -------------------------------------------------------------------------

/** Start `vigil` on a free loopback port with a fresh data dir; resolves once it listens. */
function startAgent(extraApi = '') {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-ui-'));
  const config = join(dir, 'vigil.toml');
  writeFileSync(
    config,
    `data_dir = ${JSON.stringify(join(dir, 'data'))}\n` +
      `[api]\naddress = "127.0.0.1:0"\n${extraApi}\n` +
      `[[detectors]]\nplugin = "builtin:isolation-forest"\nthreshold = 0.6\n`,
  );
  const child = spawn(binary, ['--config', config], { stdio: ['ignore', 'pipe', 'inherit'] });
  // Never leave an agent behind, even when this script fails half-way.
  process.on('exit', () => child.kill('SIGKILL'));
  return new Promise((resolveStart, rejectStart) => {
    let printed = '';
    const timer = setTimeout(() => rejectStart(new Error(`vigil did not listen within 60 s:\n${printed}`)), 60_000);
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      printed += `${line}\n`;
      const match = line.match(/listening on http:\/\/(\S+)/);
      if (match) {
        clearTimeout(timer);
        resolveStart({ child, dir, base: `http://${match[1]}` });
      }
    });
    child.on('exit', (code) => rejectStart(new Error(`vigil exited (${code}) before listening:\n${printed}`)));
    child.on('error', rejectStart);
  });
}

function stopAgent(agent) {
  if (!agent) return;
  agent.child.kill('SIGTERM');
  rmSync(agent.dir, { recursive: true, force: true });
}

/** One access-log entry of the API's shape. */
function log(i, overrides = {}) {
  return {
    ip: `10.0.${Math.floor(i / 250) % 250}.${(i % 250) + 1}`,
    timestamp: new Date().toISOString(),
    method: 'GET',
    url: `/products/${i % 40}`,
    status_code: 200,
    bytes_sent: 2000 + (i % 300),
    user_agent: 'Mozilla/5.0 (X11; Linux x86_64)',
    ...overrides,
  };
}

async function post(agent, path, body, token) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(`${agent.base}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  const text = await response.text();
  assert.equal(response.status, 200, `${path}: ${text}`);
  return JSON.parse(text);
}

// --- the browser -----------------------------------------------------------------------

let profile;
let context;

before(async () => {
  profile = mkdtempSync(join(tmpdir(), 'vigil-chromium-'));
  // A persistent context is how Playwright takes an explicit (fresh) --user-data-dir.
  context = await chromium.launchPersistentContext(profile, {
    executablePath: browserPath,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

after(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/** A page that records every console error and uncaught exception. */
async function openPage(url) {
  const page = await context.newPage();
  const errors = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()} (${message.location().url})`);
  });
  page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
  await page.goto(url);
  return { page, errors };
}

/**
 * Console errors other than the browser's own line for an answer the panel expects and
 * handles: an endpoint another part of the agent does not provide yet (404/503).
 */
function unexpected(errors, allowed) {
  return errors.filter((e) => !allowed.some((path) => e.includes('Failed to load resource') && e.includes(path)));
}

// --- the tests -------------------------------------------------------------------------

describe('dashboard', () => {
  let agent;
  before(async () => {
    agent = await startAgent();
  });
  after(() => stopAgent(agent));

  test('shows live anomalies, updates the chart, searches, answers chat, without console errors', { timeout: 180_000 }, async () => {
    // Normal traffic first: the detector learns it and the chart has history.
    const normal = Array.from({ length: 1000 }, (_, i) => log(i));
    await post(agent, '/anomaly_detection', { logs: normal });

    const { page, errors } = await openPage(`${agent.base}/ui/`);
    await page.locator('#live', { hasText: 'live' }).waitFor({ timeout: WAIT });
    const chart = page.locator('#chart');
    await page.waitForFunction(() => Number(document.getElementById('chart').dataset.events) >= 1000, null, {
      timeout: WAIT,
    });
    const eventsBefore = Number(await chart.getAttribute('data-events'));
    assert.equal(eventsBefore, 1000, 'the chart shows the stored history');

    // An obvious outlier among normal requests, sent while the page is open.
    const batch = Array.from({ length: 20 }, (_, i) => log(i));
    batch.push(
      log(7, {
        ip: '203.0.113.66',
        method: 'POST',
        url: '/cgi-bin/../../../../etc/passwd?cmd=%27%3B%20cat%20%2Fetc%2Fshadow%3B%27&x=1&y=2&z=3',
        status_code: 500,
        bytes_sent: 987_654_321,
        user_agent: 'sqlmap/1.7',
      }),
    );
    const answer = await post(agent, '/anomaly_detection', { logs: batch });
    const outlier = answer.anomaly_details.find((d) => d.index === 20);
    assert.ok(outlier, `the outlier is an anomaly: ${JSON.stringify(answer)}`);

    const item = page.locator(`#feed li[data-id="${outlier.id}"]`);
    await item.waitFor({ timeout: WAIT });
    const text = await item.innerText();
    assert.match(text, /203\.0\.113\.66/);
    assert.match(text, /etc\/passwd/);
    assert.ok(outlier.reason && text.includes(outlier.reason), `the feed shows the reason: ${text}`);

    await page.waitForFunction(
      (expected) => Number(document.getElementById('chart').dataset.events) === expected,
      eventsBefore + batch.length,
      { timeout: WAIT },
    );
    assert.ok(Number(await chart.getAttribute('data-anomalies')) >= 1, 'the chart counts the anomaly');

    // Top IPs and URLs come from the stored events.
    await page.locator('#top-urls table').waitFor({ timeout: WAIT });
    assert.match(await page.locator('#top-urls').innerText(), /GET \/products\/\d+/);

    // Log search finds the outlier by its text.
    await page.fill('#search-form input[name="q"]', 'passwd');
    await page.click('#search-form button[type="submit"]');
    await page.locator('#search-results tbody tr').first().waitFor({ timeout: WAIT });
    assert.equal(await page.locator('#search-results tbody tr').count(), 1);
    assert.match(await page.locator('#search-results').innerText(), /203\.0\.113\.66/);

    // Chat answers from the stored data: one request returned 500, the outlier.
    await page.fill('#chat-form input[name="query"]', 'how many requests returned 500?');
    await page.click('#chat-form button[type="submit"]');
    const reply = page.locator('#chat-transcript .answer:not(.pending)');
    await reply.waitFor({ timeout: WAIT });
    assert.equal(await reply.getAttribute('class'), 'answer', `chat answers: ${await reply.innerText()}`);
    assert.match(await reply.innerText(), /\b1\b/, 'the answer carries the exact count');

    // Every other panel says something: data, or a short "not available".
    for (const id of ['#summaries', '#status']) {
      await page.waitForFunction((sel) => document.querySelector(sel).textContent.trim().length > 0, id, {
        timeout: WAIT,
      });
    }
    assert.match(await page.locator('#status').innerText(), /isolation-forest/);
    assert.equal(await page.locator('#health').innerText(), 'healthy');

    mkdirSync(dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(`screenshot: ${screenshot}`);

    // Endpoints other parts of the agent may not provide yet; their panels say so.
    const allowed = ['/api/v1/summaries', '/api/v1/plugins'];
    assert.deepEqual(unexpected(errors, allowed), [], 'no console errors');
    await page.close();
  });
});

describe('dashboard with a token', () => {
  const token = 'browser-test-token-0123456789';
  let agent;
  before(async () => {
    agent = await startAgent(`token = "${token}"`);
  });
  after(() => stopAgent(agent));

  test('asks for the token, then works with it', { timeout: 120_000 }, async () => {
    const { page } = await openPage(`${agent.base}/ui/`);
    // The page is open; the data APIs are not, and the panels say so.
    await page.locator('#search-results', { hasText: 'needs the API token' }).waitFor({ timeout: WAIT });

    await page.fill('#token-form input[name="token"]', token);
    await Promise.all([page.waitForEvent('load'), page.click('#token-form button[type="submit"]')]);
    await page.locator('#live', { hasText: 'live' }).waitFor({ timeout: WAIT });

    const answer = await post(agent, '/anomaly_detection', { logs: [log(1)] }, token);
    assert.equal(answer.total_logs, 1);
    await page.waitForFunction(() => Number(document.getElementById('chart').dataset.events) === 1, null, {
      timeout: WAIT,
    });
    await page.click('#search-form button[type="submit"]');
    await page.locator('#search-results tbody tr').first().waitFor({ timeout: WAIT });
    await page.close();
  });
});
