// A task's page: its whole story from the dispatcher's trace (GET /api/tasks/<id>/trace).
import { bytes, clock, esc, ms, stateBadge } from './format.js';
import { getJson } from './api.js';

const $ = (id) => document.getElementById(id);
/** Payloads and results longer than this are cut here; the download link has them whole. */
const SHOWN_CHARS = 4000;

const id = decodeURIComponent(location.pathname.split('/').pop() ?? '');
$('task-id').textContent = id;
$('download').href = `/api/tasks/${encodeURIComponent(id)}`;
$('download').setAttribute('download', `task-${id}.json`);

function shown(value) {
  const text = JSON.stringify(value, null, 2) ?? 'null';
  return text.length > SHOWN_CHARS
    ? `${text.slice(0, SHOWN_CHARS)}\n… (${text.length - SHOWN_CHARS} more characters: download the record)`
    : text;
}

function render({ task, traceId, attempts, events }) {
  document.body.dataset.loaded = 'true';
  $('task-status').innerHTML = stateBadge(task.status);
  const facts = [
    ['type', esc(task.type)],
    ['status', esc(task.status)],
    ['attempts', `${task.attempts} of ${task.maxAttempts}`],
    ['worker', esc(task.worker ?? '–')],
    ['submitted', clock(task.createdAt)],
    ['took', task.finishedAt ? ms(task.finishedAt - task.createdAt) : '–'],
    [
      'trace',
      traceId
        ? `<code id="trace-id">${esc(traceId)}</code>`
        : '<span class="muted">not traced (submit with a traceparent, e.g. taskmesh submit --trace)</span>',
    ],
  ];
  $('task-facts').tBodies[0].innerHTML = facts.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('');
  $('task-error').textContent = task.error ? `${task.error.code}: ${task.error.message}` : '';
  let previous = events[0]?.at;
  $('timeline').innerHTML = events
    .map((e) => {
      const gap = e.at - previous;
      previous = e.at;
      return `<li data-event="${esc(e.event)}"><span class="time">${clock(e.at)}</span>${stateBadge(e.event)}<span class="muted">+${ms(gap)}</span>${
        e.detail ? `<span>${esc(e.detail)}</span>` : ''
      }</li>`;
    })
    .join('');
  $('attempts').innerHTML = attempts.length
    ? attempts
        .map(
          (a) => `<article class="attempt" data-attempt="${a.attempt}">
  <h3>attempt ${a.attempt} · <span class="worker">${esc(a.worker)}</span> · <span class="${a.outcome === 'succeeded' ? 'good' : 'err'}">${esc(a.outcome ?? 'in flight')}</span></h3>
  <p class="reason">${esc(a.reason)}</p>
  <p class="muted">sent ${clock(a.sentAt)}${a.ackedAt ? `, acknowledged after ${ms(a.ackedAt - a.sentAt)}` : ''}${
    a.endedAt ? `, ended after ${ms(a.endedAt - a.sentAt)}` : ''
  }; ${a.retransmits} retransmission${a.retransmits === 1 ? '' : 's'}</p>
  <p><button type="button" class="worker-around" data-worker="${esc(a.worker)}" data-at="${a.sentAt}">${esc(a.worker)}: where it runs, its stats and its log lines then</button></p>
  <div class="around"></div>
  <table class="candidates"><thead><tr><th>candidate</th><th>load</th><th>heartbeat</th><th>state</th><th></th></tr></thead><tbody>${a.candidates
    .map(
      (c) =>
        `<tr class="${c.name === a.worker ? 'chosen' : ''}"><td>${esc(c.name)}</td><td class="num">${Math.round(c.loadRatio * 100)} %</td><td class="num">${ms(c.heartbeatAgeMs)} ago</td><td>${esc(c.state)}</td><td>${
          c.name === a.worker ? 'chosen' : c.avoided ? 'avoided' : ''
        }</td></tr>`,
    )
    .join('')}</tbody></table>
</article>`,
        )
        .join('')
    : '<p class="empty">not sent to a worker yet</p>';
  $('payload').textContent = shown(task.payload);
  $('result').textContent = task.status === 'succeeded' ? shown(task.result) : '–';
}

// An attempt's worker: its container or process, its stats now, and its log lines around the attempt.
$('attempts').addEventListener('click', async (e) => {
  const button = e.target.closest('button.worker-around');
  if (!button) return;
  const box = button.closest('.attempt').querySelector('.around');
  box.textContent = 'loading…';
  const { ok, body, error } = await getJson(`/api/workers/${encodeURIComponent(button.dataset.worker)}/around?at=${button.dataset.at}`);
  if (!ok) {
    box.innerHTML = `<p class="err">${esc(error)}</p>`;
    return;
  }
  const w = body.worker;
  const where = w.container
    ? `container ${esc(w.container.name)} (${esc(w.container.state)})`
    : w.process
      ? `process ${esc(w.process.name)}, pid ${w.process.pid}`
      : esc(body.note ?? 'unknown');
  const stats = body.stats
    ? `${body.stats.cpuPercent === null ? '–' : `${body.stats.cpuPercent} % CPU`}, ${body.stats.memoryBytes === null ? '–' : bytes(body.stats.memoryBytes)}, ${esc(body.stats.state)}`
    : '–';
  box.innerHTML = `<p>runs in ${where}; now ${stats}</p>
  <p class="muted">${body.lines.length} log line${body.lines.length === 1 ? '' : 's'} from ${clock(body.from)} to ${clock(body.to)}${body.source ? ` (${body.source})` : ''}</p>
  <pre class="log-lines">${body.lines.map((l) => `${clock(l.at)} ${esc(l.text)}`).join('\n')}</pre>`;
});

async function load() {
  const { ok, body, error } = await getJson(`/api/tasks/${encodeURIComponent(id)}/trace`);
  if (!ok) {
    document.body.dataset.loaded = 'error';
    $('task-error').textContent = body?.error ? `${body.error.code}: ${body.error.message}` : error;
    return;
  }
  render(body);
  // A task still on its way is read again until it ends.
  if (!['succeeded', 'failed', 'cancelled'].includes(body.task.status)) setTimeout(load, 1000);
}

void load();
