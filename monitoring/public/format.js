// Formatting helpers for the dashboard (plain ES module, no build step).

/** Escapes text for use inside HTML. */
export function esc(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

export function duration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

export function ms(value) {
  if (value === null || value === undefined) return '–';
  if (value < 1) return `${value.toFixed(2)} ms`;
  if (value < 1000) return `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`;
  return `${(value / 1000).toFixed(2)} s`;
}

export function bytes(n) {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n < 10 && i > 0 ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
}

export function percent(n) {
  return n === null || n === undefined ? '–' : `${n.toFixed(1)}%`;
}

export function rate(n) {
  if (n === null || n === undefined) return '–';
  return n >= 100 ? String(Math.round(n)) : n.toFixed(1);
}

export function clock(at) {
  return new Date(at).toLocaleTimeString([], { hour12: false });
}

/** A coloured pill; `kind` picks the colour (good, warn, bad, idle). */
export function badge(text, kind) {
  return `<span class="badge ${kind}">${esc(text)}</span>`;
}

const STATE_KIND = {
  live: 'good',
  running: 'good',
  healthy: 'good',
  succeeded: 'good',
  suspect: 'warn',
  starting: 'warn',
  restarting: 'warn',
  paused: 'warn',
  created: 'idle',
  queued: 'idle',
  retrying: 'warn',
  expired: 'bad',
  exited: 'bad',
  dead: 'bad',
  unhealthy: 'bad',
  crashed: 'bad',
  failed: 'bad',
  stopped: 'idle',
  cancelled: 'idle',
};

export function stateBadge(state) {
  return badge(state, STATE_KIND[state] ?? 'idle');
}

/** A horizontal bar for a 0..1 ratio, coloured by how full it is. */
export function loadBar(ratio, label) {
  const r = Math.max(0, Math.min(1, ratio ?? 0));
  const kind = r >= 0.9 ? 'bad' : r >= 0.6 ? 'warn' : 'good';
  return `<div class="bar" title="${esc(label)}"><div class="bar-fill ${kind}" style="width:${(r * 100).toFixed(1)}%"></div><span class="bar-text">${esc(label)}</span></div>`;
}
