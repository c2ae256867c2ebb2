// Events and anomalies per minute over the last 30 minutes, drawn on a canvas by hand: a
// charting library would be the dashboard's largest file for two series of 30 bars, and the
// page must work offline with nothing fetched from elsewhere.
//
// History comes from /api/v1/logs (bucketed by event time); after that every committed batch
// announced on /ws (an `ack` with its id range) is added to the minute it arrived in. The id
// ranges keep a batch from being counted twice when it is in both.

import { getJson } from './api.js';
import { count, el, fill } from './dom.js';

const MINUTES = 30;
const MINUTE = 60_000;
/** Most events read back for the history; above it the oldest minutes are left partial. */
const HISTORY_LIMIT = 10_000;

export class TrafficChart {
  constructor(canvas, caption) {
    this.canvas = canvas;
    this.caption = caption;
    /** minute (ms since epoch / 60,000) -> { events, anomalies } */
    this.buckets = new Map();
    /** Highest event id already counted; acks at or below it are in the history. */
    this.countedUpTo = 0;
    /** Acks received while the history loads. */
    this.pending = [];
    this.historyLoaded = false;
    /** Minutes before this one may be missing events (history was cut at HISTORY_LIMIT). */
    this.partialBefore = null;
    this.resize = new ResizeObserver(() => this.draw());
    this.resize.observe(canvas);
  }

  /** Read the last 30 minutes back from the store. Throws the ApiError of /api/v1/logs. */
  async loadHistory() {
    const from = new Date(Date.now() - MINUTES * MINUTE).toISOString();
    try {
      const { logs } = await getJson('/api/v1/logs', { from, limit: HISTORY_LIMIT });
      for (const log of logs) {
        const minute = Math.floor(Date.parse(log.timestamp) / MINUTE);
        this.add(minute, 1, log.anomalous ? 1 : 0);
        this.countedUpTo = Math.max(this.countedUpTo, log.id);
      }
      if (logs.length === HISTORY_LIMIT) {
        this.partialBefore = Math.floor(Date.parse(logs[logs.length - 1].timestamp) / MINUTE) + 1;
      }
    } finally {
      this.historyLoaded = true;
      for (const ack of this.pending.splice(0)) this.onAck(ack);
      this.draw();
    }
  }

  /** A committed batch from /ws: `{count, first_id, last_id, anomalies}`. */
  onAck(ack) {
    if (!this.historyLoaded) {
      this.pending.push(ack);
      return;
    }
    if (!ack.count || ack.last_id == null || ack.last_id <= this.countedUpTo) return;
    // Part of the batch may already be in the history: count only the rest.
    const fresh = Math.min(ack.count, ack.last_id - Math.max(this.countedUpTo, ack.first_id - 1));
    const anomalies = fresh === ack.count ? ack.anomalies : Math.min(ack.anomalies, fresh);
    this.countedUpTo = ack.last_id;
    this.add(Math.floor(Date.now() / MINUTE), fresh, anomalies);
    this.draw();
  }

  add(minute, events, anomalies) {
    const bucket = this.buckets.get(minute) ?? { events: 0, anomalies: 0 };
    bucket.events += events;
    bucket.anomalies += anomalies;
    this.buckets.set(minute, bucket);
  }

  /** The visible minutes, oldest first. */
  series() {
    const now = Math.floor(Date.now() / MINUTE);
    for (const minute of this.buckets.keys()) if (minute <= now - MINUTES) this.buckets.delete(minute);
    const out = [];
    for (let m = now - MINUTES + 1; m <= now; m++) {
      const bucket = this.buckets.get(m) ?? { events: 0, anomalies: 0 };
      out.push({ minute: m, ...bucket, partial: this.partialBefore !== null && m < this.partialBefore });
    }
    return out;
  }

  draw() {
    const points = this.series();
    const events = points.reduce((sum, p) => sum + p.events, 0);
    const anomalies = points.reduce((sum, p) => sum + p.anomalies, 0);
    const last = points[points.length - 1];
    // Readable without the picture (screen readers, tests).
    this.canvas.dataset.events = events;
    this.canvas.dataset.anomalies = anomalies;
    this.canvas.setAttribute(
      'aria-label',
      `${count(events)} events and ${count(anomalies)} anomalies in the last ${MINUTES} minutes; ` +
        `${count(last.events)} events this minute`,
    );
    fill(
      this.caption,
      el('span', { class: 'legend events' }, `${count(events)} events`),
      el('span', { class: 'legend anomalies' }, `${count(anomalies)} anomalies`),
      el('span', { class: 'muted' }, ` in the last ${MINUTES} min`),
      this.partialBefore !== null ? el('span', { class: 'muted' }, ' (older minutes partial)') : null,
    );
    this.paint(points);
  }

  paint(points) {
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (!width || !height) return;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    const ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);

    const style = getComputedStyle(canvas);
    const colour = (name) => style.getPropertyValue(name).trim();
    const pad = { left: 48, right: 44, top: 10, bottom: 22 };
    const plotW = width - pad.left - pad.right;
    const plotH = height - pad.top - pad.bottom;
    const maxEvents = niceMax(Math.max(1, ...points.map((p) => p.events)));
    const maxAnomalies = niceMax(Math.max(1, ...points.map((p) => p.anomalies)));
    const slot = plotW / points.length;

    ctx.font = '11px system-ui, sans-serif';
    ctx.lineWidth = 1;
    // Grid and the events axis (left).
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (let i = 0; i <= 4; i++) {
      const y = pad.top + plotH - (plotH * i) / 4;
      ctx.strokeStyle = colour('--grid');
      ctx.beginPath();
      ctx.moveTo(pad.left, Math.round(y) + 0.5);
      ctx.lineTo(pad.left + plotW, Math.round(y) + 0.5);
      ctx.stroke();
      ctx.fillStyle = colour('--events');
      ctx.fillText(short((maxEvents * i) / 4), pad.left - 6, y);
      ctx.fillStyle = colour('--anomalies');
      ctx.textAlign = 'left';
      ctx.fillText(short((maxAnomalies * i) / 4), pad.left + plotW + 6, y);
      ctx.textAlign = 'right';
    }
    // Events as bars.
    points.forEach((p, i) => {
      const h = (p.events / maxEvents) * plotH;
      ctx.fillStyle = p.partial ? colour('--partial') : colour('--events');
      ctx.fillRect(pad.left + i * slot + slot * 0.15, pad.top + plotH - h, slot * 0.7, h);
    });
    // Anomalies as a line with dots, on their own scale (right).
    ctx.strokeStyle = colour('--anomalies');
    ctx.fillStyle = colour('--anomalies');
    ctx.lineWidth = 2;
    ctx.beginPath();
    points.forEach((p, i) => {
      const x = pad.left + (i + 0.5) * slot;
      const y = pad.top + plotH - (p.anomalies / maxAnomalies) * plotH;
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    ctx.stroke();
    points.forEach((p, i) => {
      if (!p.anomalies) return;
      ctx.beginPath();
      ctx.arc(pad.left + (i + 0.5) * slot, pad.top + plotH - (p.anomalies / maxAnomalies) * plotH, 3, 0, 2 * Math.PI);
      ctx.fill();
    });
    // Time labels every 5 minutes.
    ctx.fillStyle = colour('--muted');
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    points.forEach((p, i) => {
      if (p.minute % 5 !== 0) return;
      const label = new Date(p.minute * MINUTE).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' });
      ctx.fillText(label, pad.left + (i + 0.5) * slot, pad.top + plotH + 6);
    });
  }
}

/** A round axis maximum at or above `n` whose quarters are round too: 1, 2, 4, 6, 8, 10, 20, ... */
function niceMax(n) {
  const magnitude = 10 ** Math.floor(Math.log10(n));
  for (const step of [1, 2, 4, 6, 8]) if (step * magnitude >= n) return step * magnitude;
  return 10 * magnitude;
}

/** 1500 -> "1.5k" for axis labels. */
function short(n) {
  if (n >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${+(n / 1e3).toFixed(1)}k`;
  return `${+n.toFixed(1)}`;
}
