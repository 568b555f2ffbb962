// The dashboard: everything arrives over WebSockets pushed by the monitoring server
// (/api/events for state, /api/stream/image for frames, /api/containers/:id/logs for a log tail).
// The page never polls; it re-renders a panel when its topic changes.
import { badge, bytes, clock, duration, esc, loadBar, ms, percent, rate, stateBadge } from './format.js';
import { ThroughputChart } from './throughput-chart.js';
import { getJson, postJson } from './api.js';

const $ = (id) => document.getElementById(id);
/** UUIDs are long; the first block tells tasks apart on screen (the full id is in the tooltip). */
// Task ids are UUIDv7, time first: their last characters (random) tell them apart at a glance.
const shortId = (id) => (/^[0-9a-f]{8}-[0-9a-f-]{27}$/i.test(id) ? id.slice(-8) : id);
const wsUrl = (path) => `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${path}`;
const FEED_MAX = 150;
const LOG_LINES_MAX = 1000;

const state = { docker: null, containers: [], processes: null, workers: null, tasks: null };
/** The dispatcher's chaos controls (they come with the workers topic). */
let chaos = { enabled: false, supervisor: null, faults: [] };
const chart = new ThroughputChart($('throughput-chart'));
let selectedContainer = null;
let logSocket = null;

/** Opens a WebSocket and reopens it after a growing pause whenever it drops. */
function keepOpen(path, handlers) {
  let retry = 0;
  const open = () => {
    const ws = new WebSocket(wsUrl(path));
    ws.binaryType = 'blob';
    ws.onopen = () => {
      retry = 0;
      handlers.open?.();
    };
    ws.onmessage = (e) => handlers.message(e.data);
    ws.onclose = () => {
      handlers.close?.();
      setTimeout(open, Math.min(5000, 250 * 2 ** retry++));
    };
  };
  open();
}

function setLink(id, ok, title) {
  const el = $(id);
  el.className = `badge ${ok ? 'good' : 'bad'}`;
  el.title = title;
}

// ---- state topics ------------------------------------------------------------------------------

const topics = {
  docker(data) {
    state.docker = data;
    setLink(
      'link-docker',
      data.connected,
      data.connected ? `projects: ${data.projects.join(', ') || 'none found'}` : (data.error ?? 'not connected'),
    );
    const feed = $('docker-events');
    feed.dataset.empty = data.connected ? 'waiting for events…' : 'Docker not connected: no container events';
    $('docker-events-note').textContent = data.connected ? '' : 'needs Docker';
    renderContainers();
  },
  containers(data) {
    state.containers = data;
    renderContainers();
  },
  processes(data) {
    state.processes = data;
    renderContainers();
  },
  workers(data) {
    state.workers = data;
    chaos = data.chaos ?? chaos;
    for (const th of document.querySelectorAll('#workers-table th.chaos-col')) th.hidden = !chaos.enabled;
    setLink('link-nameservice', data.connected, data.connected ? data.url : data.error);
    renderWorkers();
  },
  tasks(data) {
    state.tasks = data;
    setLink('link-dispatcher', data.connected, data.connected ? data.url : data.error);
    renderTasks();
  },
  'task-event'(data) {
    addFeed(
      'task-events',
      `<span class="time">${clock(data.at)}</span>${stateBadge(data.event)}<a class="task-link" href="/tasks/${encodeURIComponent(data.taskId)}"><code title="${esc(data.taskId)}">${esc(shortId(data.taskId))}</code></a><span class="muted">${esc(data.type)}</span>${
        data.worker ? `<span class="muted">on ${esc(data.worker)}</span>` : ''
      }${data.latencyMs !== null ? `<span class="muted">${ms(data.latencyMs)}</span>` : ''}${data.error ? `<span class="err">${esc(data.error.code)}: ${esc(data.error.message)}</span>` : ''}`,
    );
  },
  'docker-event'(data) {
    const kind = /die|kill|oom|unhealthy|destroy/.test(data.action) ? 'bad' : /start|healthy/.test(data.action) ? 'good' : 'idle';
    addFeed(
      'docker-events',
      `<span class="time">${clock(data.at)}</span>${badge(data.action, kind)}<span>${esc(data.service ?? data.name ?? data.id.slice(0, 12))}</span>${
        data.exitCode !== null ? `<span class="muted">exit ${data.exitCode}</span>` : ''
      }`,
    );
  },
};

keepOpen('/api/events', {
  open: () => setLink('link-socket', true, 'receiving live updates'),
  close: () => setLink('link-socket', false, 'reconnecting to the monitoring server…'),
  message(text) {
    const msg = JSON.parse(text);
    topics[msg.topic]?.(msg.data);
  },
});

function addFeed(id, html) {
  const list = $(id);
  const li = document.createElement('li');
  li.innerHTML = html;
  list.prepend(li);
  while (list.childElementCount > FEED_MAX) list.lastElementChild.remove();
}

// ---- tasks -------------------------------------------------------------------------------------

function renderTasks() {
  const t = state.tasks;
  $('tasks-note').innerHTML = t.connected
    ? t.eventsConnected
      ? ''
      : badge('event feed reconnecting', 'warn')
    : badge(`dispatcher unreachable: ${t.error}`, 'bad');
  const s = t.stats;
  $('kpi-throughput').textContent = s ? rate(s.throughput.last10s ?? 0) : '–';
  $('kpi-finished').textContent = s ? String(s.totals.succeeded + s.totals.failed + s.totals.cancelled) : '–';
  $('kpi-p50').textContent = s ? ms(s.latencyMs.p50) : '–';
  $('kpi-p99').textContent = s ? ms(s.latencyMs.p99) : '–';
  $('kpi-failed').textContent = s ? String(s.totals.failed) : '–';
  $('kpi-failed').classList.toggle('bad', Boolean(s && s.totals.failed > 0));
  $('kpi-queue').textContent = s ? `${s.pending} · ${s.inFlight}` : '–';
  if (t.throughput) chart.update(t.throughput);
  const types = s ? Object.entries(s.types).sort(([a], [b]) => a.localeCompare(b)) : [];
  $('types-table').tBodies[0].innerHTML = types
    .map(
      ([type, c]) =>
        `<tr><td>${esc(type)}</td><td class="num">${c.queued}</td><td class="num">${c.running}</td><td class="num">${c.succeeded}</td><td class="num ${c.failed ? 'err' : ''}">${c.failed}</td><td class="num">${c.cancelled}</td></tr>`,
    )
    .join('');
  $('failed-note').textContent = t.failed.length ? `${t.failed.length} shown` : '';
  $('failed-table').tBodies[0].innerHTML = t.failed.length
    ? t.failed
        .map(
          (
            f,
          ) => `<tr data-task="${esc(f.id)}"><td><a class="task-link" href="/tasks/${encodeURIComponent(f.id)}"><code title="${esc(f.id)}">${esc(shortId(f.id))}</code></a></td><td>${esc(f.type)}</td><td class="err error-cell" title="${esc(f.error?.message ?? '')}">${esc(f.error ? `${f.error.code}: ${f.error.message}` : '')}</td>
          <td class="num">${f.attempts}/${f.maxAttempts}</td><td>${f.finishedAt ? clock(f.finishedAt) : '–'}</td><td><button class="retry" data-retry="${esc(f.id)}">retry</button></td></tr>`,
        )
        .join('')
    : '<tr><td colspan="6" class="empty">no failed tasks</td></tr>';
}

$('failed-table').addEventListener('click', async (e) => {
  const id = e.target.closest('button[data-retry]')?.dataset.retry;
  if (!id) return;
  e.target.disabled = true;
  const res = await postJson(`/api/tasks/${encodeURIComponent(id)}/retry`);
  $('failed-note').innerHTML = res.ok ? badge(`retrying ${id}`, 'good') : badge(`retry failed: ${res.error}`, 'bad');
});

// ---- finding tasks and acting on many ----------------------------------------------------------

let found = { filter: null, tasks: [], cursor: null };

/** The search as the dispatcher takes it: times (the page's local time) as ms since the epoch. */
function filterOf(form) {
  const filter = {};
  for (const [key, value] of new FormData(form)) {
    const text = String(value).trim();
    if (text === '') continue;
    filter[key] = key === 'since' || key === 'until' ? new Date(text).getTime() : text;
  }
  return filter;
}

/** Page size of a search; `next page` reads on from the dispatcher's cursor. */
const FIND_PAGE = 100;

function findRow(t) {
  return `<tr><td><a class="task-link" href="/tasks/${encodeURIComponent(t.id)}"><code title="${esc(t.id)}">${esc(shortId(t.id))}</code></a></td><td>${esc(t.type)}</td><td>${stateBadge(
    t.status,
  )}</td><td>${esc(t.worker ?? '–')}</td><td class="num">${t.attempts}/${t.maxAttempts}</td><td>${clock(t.createdAt)}</td></tr>`;
}

async function find(filter, cursor) {
  const query = new URLSearchParams({ ...filter, limit: String(FIND_PAGE), ...(cursor ? { cursor } : {}) });
  const { ok, body, error } = await getJson(`/api/tasks/search?${query}`);
  if (!ok) {
    $('find-note').innerHTML = badge(error, 'bad');
    return;
  }
  found = { filter, tasks: cursor ? [...found.tasks, ...body.tasks] : body.tasks, cursor: body.nextCursor ?? null };
  $('find-note').textContent = `${found.tasks.length} found${found.cursor ? ', more on the next page' : ''}`;
  $('find-more').hidden = !found.cursor;
  const rows = body.tasks.map(findRow).join('');
  if (cursor) $('find-table').tBodies[0].insertAdjacentHTML('beforeend', rows);
  else $('find-table').tBodies[0].innerHTML = rows || '<tr><td colspan="6" class="empty">no tasks match</td></tr>';
  // Acting on many needs a status: only failed or cancelled ones can be retried, queued or running ones cancelled.
  $('bulk-retry').disabled = !['failed', 'cancelled'].includes(filter.status) || found.tasks.length === 0;
  $('bulk-cancel').disabled = !['queued', 'running'].includes(filter.status) || found.tasks.length === 0;
}

$('find-form').addEventListener('submit', (e) => {
  e.preventDefault();
  void find(filterOf(e.target));
});
$('find-more').addEventListener('click', () => {
  if (found.filter && found.cursor) void find(found.filter, found.cursor);
});

for (const action of ['retry', 'cancel']) {
  $(`bulk-${action}`).addEventListener('click', async () => {
    const { filter, tasks } = found;
    if (!filter?.status) return;
    if (!confirm(`${action} every ${filter.status} task that matches (${tasks.length} shown)?`)) return;
    // The dispatcher reads a bounded part of its journal per request and says where it stopped
    // (nextCursor): the requests go on from there to the journal's end.
    let changed = 0;
    let matched = 0;
    let cursor;
    for (;;) {
      const { ok, body, error } = await postJson(`/api/tasks/bulk/${action}`, cursor ? { ...filter, cursor } : filter);
      if (!ok) {
        $('find-note').innerHTML = badge(`${action} failed: ${error}`, 'bad');
        return;
      }
      changed += body.changed;
      matched += body.matched;
      cursor = body.nextCursor;
      if (!cursor) break;
    }
    $('find-note').innerHTML = badge(`${action === 'retry' ? 'retried' : 'cancelled'} ${changed} of ${matched}`, 'good');
  });
}

// ---- workers -----------------------------------------------------------------------------------

function renderWorkers() {
  const w = state.workers;
  $('workers-note').innerHTML = w.connected
    ? `${w.workers.filter((x) => x.state === 'live').length} live of ${w.workers.length}`
    : badge(`nameservice unreachable: ${w.error}`, 'bad');
  const rows = [...w.workers].sort((a, b) => a.type.localeCompare(b.type) || a.name.localeCompare(b.name));
  $('workers-table').tBodies[0].innerHTML = rows.length
    ? rows
        .map((x) => {
          const used = x.load.queued + x.load.inFlight;
          const where = x.container
            ? `${esc(x.container.service ?? x.container.name)} ${stateBadge(x.container.state)}`
            : x.process
              ? `${esc(x.process.name)} <span class="muted">pid ${x.process.pid}</span>`
              : '<span class="muted">–</span>';
          const link = x.link;
          // A link degrades when sends are retransmitted, answers are BUSY, or it went quiet with work out.
          const degraded =
            link !== null &&
            link !== undefined &&
            (link.retransmitRatio > 0.05 || link.busyRatio > 0.5 || (link.lastAckAgeMs > 3000 && x.load.inFlight > 0));
          const linkCell = link
            ? `<span title="round trip ${ms(link.srttMs)} ± ${ms(link.rttvarMs)}; ${Math.round(link.retransmitRatio * 100)} % retransmitted, ${Math.round(
                link.busyRatio * 100,
              )} % BUSY; last answer ${ms(link.lastAckAgeMs)} ago">${ms(link.srttMs)} · ${Math.round(link.retransmitRatio * 100)} % retx</span>`
            : '<span class="muted">–</span>';
          return `<tr data-worker="${esc(x.name)}" class="${x.state}${degraded ? ' degraded' : ''}"><td><code>${esc(x.name)}</code></td><td>${esc(x.type)}</td><td class="muted">${esc(x.host)}:${x.port}</td>
            <td class="load-col">${loadBar(x.loadRatio, `${used} / ${x.load.capacity}`)}</td><td class="num">${x.load.queued}</td><td class="num">${x.load.inFlight}</td>
            <td class="num">${duration(x.heartbeatAgeMs)}</td><td class="link-col">${linkCell}</td><td class="state-col">${stateBadge(x.state)}${
              x.downReason ? ` <span class="muted down-reason">${esc(x.downReason)}</span>` : ''
            }</td><td>${where}</td>${chaosCell(x)}</tr>`;
        })
        .join('')
    : '<tr><td colspan="10" class="empty">no workers registered</td></tr>';
}

// ---- chaos controls (only when the dispatcher runs with TASKMESH_CHAOS=1) -----------------------

function chaosCell(worker) {
  if (!chaos.enabled) return '';
  const faults = chaos.faults
    .filter((f) => f.worker === worker.name)
    .map((f) => badge(f.kind === 'loss' ? `loss ${f.percent} % · ${f.dropped} dropped` : 'paused', 'warn'))
    .join(' ');
  const buttons = (chaos.supervisor === null ? ['loss'] : ['kill', 'pause', 'resume', 'loss'])
    .map(
      (a) =>
        `<button type="button" class="chaos-btn" data-chaos="${a}" data-worker="${esc(worker.name)}">${a === 'loss' ? 'loss 30 %' : a}</button>`,
    )
    .join('');
  return `<td class="chaos-col">${faults} ${buttons}</td>`;
}

$('workers-table').addEventListener('click', async (e) => {
  const button = e.target.closest('button[data-chaos]');
  if (!button) return;
  const { chaos: action, worker } = button.dataset;
  if (action === 'kill' && !confirm(`kill ${worker}?`)) return;
  const body = action === 'loss' ? { worker, percent: 30, forMs: 30000 } : action === 'pause' ? { worker, forMs: 30000 } : { worker };
  const res = await postJson(`/api/chaos/${action}`, body);
  $('workers-note').innerHTML = res.ok ? badge(res.body.done, 'warn') : badge(`${action} failed: ${res.error}`, 'bad');
});

// ---- containers, or the runner's processes without Docker --------------------------------------

function renderContainers() {
  const d = state.docker;
  if (!d) return;
  const banner = $('docker-banner');
  const table = $('containers-table');
  const p = state.processes;
  // Under `npm start` on a machine that also runs Docker, the suite is the runner's processes.
  if (d.connected && !(state.containers.length === 0 && p?.available)) {
    banner.hidden = state.containers.length > 0;
    banner.textContent = `Docker is connected but no taskmesh containers were found${d.projects.length ? ` in project ${d.projects.join(', ')}` : ''}.`;
    $('containers-title').textContent = 'Containers';
    $('containers-note').textContent = d.projects.length ? `compose project ${d.projects.join(', ')} (${d.projectSource})` : '';
    table.tHead.innerHTML =
      '<tr><th>container</th><th>state</th><th>health</th><th class="num">uptime</th><th class="num">restarts</th><th class="num">CPU</th><th class="num">memory</th><th>status</th></tr>';
    table.tBodies[0].innerHTML = state.containers
      .map(
        (
          c,
        ) => `<tr data-container="${esc(c.id)}" class="clickable ${c.id === selectedContainer ? 'selected' : ''}"><td><strong>${esc(c.service ?? c.name)}</strong> <span class="muted">${esc(c.name)}</span></td>
        <td>${stateBadge(c.state)}</td><td>${c.health ? stateBadge(c.health) : '<span class="muted">–</span>'}</td><td class="num">${duration(c.uptimeMs)}</td>
        <td class="num ${c.restartCount ? 'warn-text' : ''}">${c.restartCount}</td><td class="num">${percent(c.cpuPercent)}</td>
        <td class="num">${bytes(c.memoryBytes)}${c.memoryLimitBytes ? ` <span class="muted">/ ${bytes(c.memoryLimitBytes)}</span>` : ''}</td><td class="muted">${esc(c.status)}</td></tr>`,
      )
      .join('');
    return;
  }
  if (!logSocket) $('logs-note').textContent = 'container logs need Docker';
  banner.hidden = false;
  banner.innerHTML = d.connected
    ? `Docker is connected but runs no taskmesh containers — showing the local runner's processes.`
    : `${badge('Docker not connected', 'warn')} <span>${esc(d.error ?? '')}</span> — ${
        p?.available ? "showing the local runner's processes instead." : `and no runner state: ${esc(p?.error ?? 'unknown')}`
      }`;
  $('containers-title').textContent = 'Processes';
  $('containers-note').textContent = p?.available ? `runner pid ${p.runnerPid}` : '';
  table.tHead.innerHTML =
    '<tr><th>process</th><th class="num">pid</th><th>status</th><th class="num">uptime</th><th class="num">restarts</th><th class="num">CPU</th><th class="num">memory</th><th class="num">last exit</th></tr>';
  const procs = p?.processes ?? [];
  if (procs.length === 0) {
    table.tBodies[0].innerHTML = '<tr><td colspan="8" class="empty">no processes to show</td></tr>';
    return;
  }
  table.tBodies[0].innerHTML = procs
    .map(
      (
        x,
      ) => `<tr data-process="${esc(x.name)}"><td><strong>${esc(x.name)}</strong></td><td class="num">${x.pid ?? '–'}</td><td>${stateBadge(x.status)}${x.status === 'running' && !x.alive ? ' ' + badge('gone', 'bad') : ''}</td>
      <td class="num">${duration(x.uptimeMs)}</td><td class="num ${x.restarts ? 'warn-text' : ''}">${x.restarts}</td><td class="num">${percent(x.cpuPercent)}</td><td class="num">${bytes(x.memoryBytes)}</td><td class="num">${x.lastExitCode ?? '–'}</td></tr>`,
    )
    .join('');
}

// ---- container logs ----------------------------------------------------------------------------

$('containers-table').addEventListener('click', (e) => {
  const row = e.target.closest('tr[data-container]');
  if (!row) return;
  selectedContainer = row.dataset.container;
  renderContainers();
  followLogs(selectedContainer, row.querySelector('strong')?.textContent ?? selectedContainer.slice(0, 12));
});

function followLogs(id, label) {
  logSocket?.close();
  const pre = $('logs');
  pre.textContent = '';
  $('logs-target').textContent = `· ${label}`;
  $('logs-note').textContent = 'following';
  const ws = new WebSocket(wsUrl(`/api/containers/${encodeURIComponent(id)}/logs?tail=200`));
  logSocket = ws;
  ws.onmessage = (e) => {
    const msg = JSON.parse(e.data);
    if (msg.topic === 'log-end') {
      $('logs-note').textContent = msg.data.error ?? msg.data.reason;
      return;
    }
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    const span = document.createElement('span');
    span.className = msg.data.stream;
    span.textContent = `${msg.data.text}\n`;
    pre.append(span);
    while (pre.childElementCount > LOG_LINES_MAX) pre.firstElementChild.remove();
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  };
  ws.onclose = () => {
    if (logSocket === ws) $('logs-note').textContent ||= 'closed';
  };
}

// ---- live image --------------------------------------------------------------------------------

let frameUrl = null;
let frames = 0;

function showFrame(blob) {
  const url = URL.createObjectURL(blob);
  const img = $('live-image');
  img.onload = () => {
    if (frameUrl && frameUrl !== url) URL.revokeObjectURL(frameUrl);
    frameUrl = url;
  };
  img.src = url;
  frames += 1;
  $('image-note').textContent = `${frames} frames`;
}

keepOpen('/api/stream/image', {
  message(data) {
    if (data instanceof Blob) {
      showFrame(data);
      return;
    }
    const msg = JSON.parse(data);
    if (msg.topic === 'image-status') {
      if (!msg.data.connected) {
        $('image-note').innerHTML = badge('not connected', 'warn');
        $('image-placeholder').textContent = msg.data.error ?? 'not connected';
      }
      return;
    }
    // The dispatcher's own notes: {"event":"error","error":{code,message}} when a frame fails.
    if (msg.event === 'error') {
      $('image-note').innerHTML = badge(msg.error?.code ?? 'error', 'bad');
      $('image-placeholder').textContent = `${msg.error?.code}: ${msg.error?.message}`;
    }
  },
  close: () => {
    $('image-note').innerHTML = badge('reconnecting…', 'warn');
  },
});
