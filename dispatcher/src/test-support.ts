import { request as httpRequest } from 'node:http';
import WebSocket from 'ws';
import type { TaskRecord } from '@taskmesh/shared';
import { TEST_SECRET, eventually } from '@taskmesh/shared/testing';
import { createDispatcher, type Dispatcher, type DispatcherOptions } from './dispatcher.js';
import { newTaskEntry, type TaskEntry } from './task-entry.js';

/** Helpers for the dispatcher's integration tests (compiled beside them, not exported). */
export interface ApiAnswer<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export async function api<T = any>(
  base: string,
  path: string,
  init: { method?: string; body?: unknown; raw?: string; headers?: Record<string, string>; token?: string } = {},
): Promise<ApiAnswer<T>> {
  const headers: Record<string, string> = { ...init.headers };
  let body: string | undefined;
  if (init.raw !== undefined) body = init.raw;
  else if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  }
  if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
  const res = await fetch(`${base}${path}`, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON (e.g. /metrics)
  }
  return { status: res.status, headers: res.headers, body: parsed as T };
}

export { eventually } from '@taskmesh/shared/testing';

/** A WebSocket that records every message, with a way to wait for one matching a predicate. */
export interface RecordingSocket {
  ws: WebSocket;
  messages: Array<{ data: Buffer; binary: boolean }>;
  next(predicate: (m: { data: Buffer; binary: boolean }) => boolean, timeoutMs?: number): Promise<{ data: Buffer; binary: boolean }>;
  close(): void;
}

/** Waits until the dispatcher accepts `type` with at least `workers` live workers (its catalog learned it). */
export async function typeKnown(base: string, type: string, workers = 0): Promise<void> {
  await eventually(`the dispatcher to know ${type}${workers > 0 ? ` with ${workers} worker(s)` : ''}`, async () =>
    (await api(base, '/v1/types')).body.types.some((t: { name: string; workers: number }) => t.name === type && t.workers >= workers),
  );
}

export async function openSocket(url: string, headers: Record<string, string> = {}): Promise<RecordingSocket> {
  const ws = new WebSocket(url, { headers });
  const messages: RecordingSocket['messages'] = [];
  const waiters = new Set<{
    p: (m: { data: Buffer; binary: boolean }) => boolean;
    resolve: (m: { data: Buffer; binary: boolean }) => void;
  }>();
  ws.on('message', (data, binary) => {
    const m = { data: Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer), binary };
    messages.push(m);
    for (const w of waiters)
      if (w.p(m)) {
        waiters.delete(w);
        w.resolve(m);
      }
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) =>
      reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { statusCode: res.statusCode })),
    );
  });
  return {
    ws,
    messages,
    next: (p, timeoutMs = 10_000) => {
      const seen = messages.find(p);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = {
          p,
          resolve: (m: { data: Buffer; binary: boolean }) => {
            clearTimeout(timer);
            resolve(m);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`no matching WebSocket message within ${timeoutMs} ms (${messages.length} received)`));
        }, timeoutMs);
        waiters.add(w);
      });
    },
    close: () => ws.close(),
  };
}

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A queued `reverse` task's entry with a one-second deadline; `over` replaces record fields. */
export function queuedEntry(id: string, over: Partial<TaskRecord> = {}): TaskEntry {
  const record: TaskRecord = {
    id,
    type: 'reverse',
    status: 'queued',
    payload: { text: id },
    result: null,
    error: null,
    attempts: 0,
    maxAttempts: 3,
    timeoutMs: 1000,
    worker: null,
    progress: null,
    idempotencyKey: null,
    createdAt: Date.now(),
    startedAt: null,
    finishedAt: null,
    ...over,
  };
  return newTaskEntry(record, false, Date.now() + 1000);
}

/** A request through node:http, which sends any Host and path as given (fetch normalises both). */
export function rawRequest(
  base: string,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer },
): Promise<{ status: number; body: any }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    // A connection of its own: a reused one may be closed by the server after an odd request.
    const req = httpRequest(
      { hostname, port, method: options.method ?? 'GET', path: options.path, headers: options.headers, agent: false },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
      },
    );
    // An upgrade the server accepted: the answer is its 101; the socket is not used further.
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 101, body: '' });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A dispatcher in this process on 127.0.0.1 (ports 0) against a running nameservice, closed after the test. */
export async function startDispatcher(
  t: { after: (fn: () => Promise<void>) => void },
  nameserviceUrl: string,
  options: Partial<DispatcherOptions> = {},
): Promise<Dispatcher> {
  const d = await createDispatcher({ nameserviceUrl, secret: TEST_SECRET, host: '127.0.0.1', port: 0, udpHost: '127.0.0.1', ...options });
  t.after(() => d.close());
  return d;
}
