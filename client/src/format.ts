import Table from 'cli-table3';
import type { TaskEvent, TaskRecord, TypeListResponse, WorkerRecord } from '@taskmesh/shared';

/**
 * Everything the CLI prints, as pure functions of the data (and `now` where ages are shown), so
 * the output is unit-tested without a dispatcher.
 */

/** Fields a handler's result is commonly reduced to, in order of preference. */
const MAIN_FIELDS = ['text', 'hash', 'digest', 'sum', 'value', 'result'] as const;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An image result, as the image worker returns it. */
export interface ImageResult {
  format: string;
  width: number;
  height: number;
  bytes: number;
  data: string;
}

export function isImageResult(v: unknown): v is ImageResult {
  return (
    isRecord(v) && typeof v.data === 'string' && typeof v.format === 'string' && typeof v.width === 'number' && typeof v.height === 'number'
  );
}

/** A succeeded task's result, readably: `olleh` for reverse, the digest for hash, the sum for sum. */
export function formatResult(result: unknown): string {
  if (typeof result === 'string') return result;
  if (typeof result === 'number' || typeof result === 'boolean' || typeof result === 'bigint') return String(result);
  if (result === null || result === undefined) return '(no result)';
  if (isImageResult(result))
    return `${result.format} image ${result.width}x${result.height}, ${typeof result.bytes === 'number' ? result.bytes : Buffer.byteLength(result.data, 'base64')} bytes`;
  if (isRecord(result)) {
    if (typeof result.waitedMs === 'number') return `waited ${Math.round(result.waitedMs)} ms`;
    for (const field of MAIN_FIELDS) {
      const v = result[field];
      if (typeof v === 'string' || typeof v === 'number') return String(v);
    }
  }
  return JSON.stringify(result);
}

/** The line for a task that did not succeed: `failed: CODE message` or `cancelled`. */
export function formatFailure(record: Pick<TaskRecord, 'status' | 'error'>): string {
  const why = record.error ? ` ${record.error.code} ${record.error.message}` : '';
  return `${record.status}:${why}`;
}

/** Milliseconds as `850 µs`, `12.3 ms`, `4.2 s`, `3m 05s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1) return `${Math.round(ms * 1000)} µs`;
  if (ms < 100) return `${Number(ms.toFixed(ms < 10 ? 2 : 1))} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
}

/** How long ago `at` was: `0.4s`, `12s`, `3m`, `2h`. */
export function formatAge(at: number, now: number): string {
  const ms = Math.max(0, now - at);
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  if (ms < 120_000) return `${Math.round(ms / 1000)}s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)}m`;
  return `${Math.round(ms / 3_600_000)}h`;
}

/** A fixed-width bar and percentage: `████░░░░░░  40%`. Ratios above 1 fill the bar and show the real figure. */
export function loadBar(ratio: number, width = 10): string {
  const r = Number.isFinite(ratio) ? Math.max(0, ratio) : 0;
  const filled = Math.min(width, Math.round(r * width));
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${String(Math.round(r * 100)).padStart(3)}%`;
}

const plainTable = (head: string[]): Table.Table =>
  new Table({ head, style: { head: [], border: [], compact: true }, chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' } });

/** `taskmesh workers`: one row per worker with its load. */
export function formatWorkersTable(workers: readonly WorkerRecord[], now: number): string {
  if (workers.length === 0) return 'no workers registered';
  const table = plainTable(['name', 'type', 'address', 'state', 'load', 'queued', 'in flight', 'heartbeat']);
  const sorted = [...workers].sort((a, b) => a.type.localeCompare(b.type) || a.name.localeCompare(b.name));
  for (const w of sorted) {
    const load = w.load ?? { queued: 0, inFlight: 0, capacity: 1 };
    const ratio = typeof w.loadRatio === 'number' ? w.loadRatio : (load.queued + load.inFlight) / load.capacity;
    table.push([
      w.name,
      w.type,
      `${w.host}:${w.port}`,
      w.state,
      loadBar(ratio),
      String(load.queued),
      `${load.inFlight}/${load.capacity}`,
      typeof w.lastHeartbeatAt === 'number' ? `${formatAge(w.lastHeartbeatAt, now)} ago` : '-',
    ]);
  }
  // Why each expired one went: its lease ran out, or what its supervisor saw.
  const gone = sorted.filter((w) => w.state === 'expired' && w.downReason !== undefined).map((w) => `${w.name} expired: ${w.downReason}`);
  return [table.toString(), ...gone].join('\n');
}

/** `taskmesh types`: one row per type, with where its payload schema comes from. */
export function formatTypesTable(types: TypeListResponse['types']): string {
  if (types.length === 0) return 'no task types';
  const table = plainTable(['type', 'kind', 'workers', 'load', 'payload fields', 'description']);
  for (const t of types) {
    const load = t.load ?? { queued: 0, inFlight: 0, capacity: 0 };
    const schema = t.payloadSchema as { properties?: Record<string, unknown>; required?: string[] } | null | undefined;
    const fields =
      schema?.properties === undefined
        ? '-'
        : Object.keys(schema.properties)
            .map((f) => (schema.required?.includes(f) === true ? f : `${f}?`))
            .join(', ');
    table.push([
      t.name,
      t.builtin === false ? 'own' : 'built-in',
      String(t.workers ?? '-'),
      load.capacity === 0 ? '-' : loadBar((load.queued + load.inFlight) / load.capacity),
      fields,
      t.description ?? '',
    ]);
  }
  return table.toString();
}

/** How long a task ran or has been running. */
function taskDuration(t: Pick<TaskRecord, 'finishedAt' | 'createdAt'>, now: number): string {
  if (t.finishedAt !== null) return formatDuration(t.finishedAt - t.createdAt);
  return `${formatDuration(now - t.createdAt)}…`;
}

/** `taskmesh list`: one row per task. */
export function formatTaskTable(tasks: ReadonlyArray<Omit<TaskRecord, 'payload' | 'result'>>, now: number): string {
  if (tasks.length === 0) return 'no tasks';
  const table = plainTable(['id', 'type', 'status', 'attempts', 'worker', 'age', 'took', 'error']);
  for (const t of tasks) {
    table.push([
      t.id,
      t.type,
      t.status,
      `${t.attempts}/${t.maxAttempts}`,
      t.worker ?? '-',
      formatAge(t.createdAt, now),
      taskDuration(t, now),
      t.error ? `${t.error.code} ${truncate(t.error.message, 40)}` : '',
    ]);
  }
  return table.toString();
}

/** `taskmesh status`: the record as aligned `key: value` lines. */
export function formatTaskRecord(t: TaskRecord, now: number): string {
  const rows: Array<[string, string]> = [
    ['id', t.id],
    ['type', t.type],
    ['status', t.progress !== null && t.status === 'running' ? `${t.status} (${Math.round(t.progress * 100)}%)` : t.status],
    ['attempts', `${t.attempts}/${t.maxAttempts}`],
    ['worker', t.worker ?? '-'],
    ['created', `${new Date(t.createdAt).toISOString()} (${formatAge(t.createdAt, now)} ago)`],
    ['took', taskDuration(t, now)],
  ];
  if (t.idempotencyKey !== null) rows.push(['idempotency key', t.idempotencyKey]);
  if (t.status === 'succeeded') rows.push(['result', truncate(formatResult(t.result), 200)]);
  if (t.error) rows.push(['error', `${t.error.code} ${t.error.message}`]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${v}`).join('\n');
}

/** `taskmesh watch`: one line per event. */
export function formatEvent(e: TaskEvent): string {
  const time = new Date(e.at).toISOString().slice(11, 23);
  const parts = [time, e.event.padEnd(10), e.type.padEnd(8), e.taskId];
  if (e.attempt > 0) parts.push(`attempt=${e.attempt}`);
  if (e.worker) parts.push(`worker=${e.worker}`);
  if (e.progress !== null && e.event === 'progress') parts.push(`${Math.round(e.progress * 100)}%`);
  if (e.latencyMs !== null) parts.push(formatDuration(e.latencyMs));
  if (e.error) parts.push(`${e.error.code} ${e.error.message}`);
  return parts.join(' ');
}

/** Counts shown at the end of `taskmesh batch`. */
export interface BatchSummary {
  submitted: number;
  succeeded?: number;
  failed?: number;
  cancelled?: number;
  seconds: number;
}

export function formatBatchSummary(s: BatchSummary): string {
  const parts = [`submitted ${s.submitted}`];
  if (s.succeeded !== undefined) parts.push(`succeeded ${s.succeeded}`);
  if (s.failed !== undefined) parts.push(`failed ${s.failed}`);
  if (s.cancelled) parts.push(`cancelled ${s.cancelled}`);
  return `${parts.join(', ')} in ${formatDuration(s.seconds * 1000)}`;
}

export function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
