import { TaskmeshError, toTaskmeshError } from '../errors.js';
import type { LoadReport } from '../protocol.js';
import type { DispatchListener, DispatchOutcome, DispatchTarget, TaskCaller } from '../transport/task-caller.js';

/** One dispatch as a Promise, with callbacks and a signal: the form tests and tools want. */
export interface DispatchRequest extends DispatchTarget {
  /** Abort → `cancel` is sent to the worker (retransmitted until cancel-ack); the dispatch rejects
   *  with signal.reason if it is a TaskmeshError, else CANCELLED. */
  signal?: AbortSignal;
  onAccepted?: (load: LoadReport) => void;
  onProgress?: (progress: number | null, state: 'queued' | 'running') => void;
}

const abortError = (signal: AbortSignal): TaskmeshError =>
  signal.reason instanceof TaskmeshError
    ? signal.reason
    : new TaskmeshError('CANCELLED', 'the dispatch was cancelled', { cause: signal.reason });

/** Adapts the listener form (TaskCaller.start) to a Promise, callbacks and a signal. */
class PromiseListener implements DispatchListener {
  onAbort: (() => void) | undefined = undefined;
  done = false;

  constructor(
    private readonly request: DispatchRequest,
    private readonly resolve: (outcome: DispatchOutcome) => void,
    private readonly reject: (err: TaskmeshError) => void,
  ) {}

  accepted(load: LoadReport): void {
    this.request.onAccepted?.(load);
  }

  progress(progress: number | null, state: 'queued' | 'running'): void {
    this.request.onProgress?.(progress, state);
  }

  settled(outcome: DispatchOutcome | TaskmeshError): void {
    this.done = true;
    if (this.onAbort !== undefined) this.request.signal?.removeEventListener('abort', this.onAbort);
    if (outcome instanceof TaskmeshError) this.reject(outcome);
    else this.resolve(outcome);
  }
}

/**
 * Sends the task through `caller`, retransmitting until acknowledged. Rejects with TaskmeshError
 * NO_ACK when no ack came after the retransmissions, WORKER_LOST when an accepted task went
 * silent; the result is acknowledged automatically. The dispatcher uses `start` itself (no
 * Promise, closure or signal per task); this form is for tests.
 */
export function dispatch(caller: TaskCaller, request: DispatchRequest): Promise<DispatchOutcome> {
  if (request.signal?.aborted === true) return Promise.reject(abortError(request.signal));
  return new Promise<DispatchOutcome>((resolve, reject) => {
    const listener = new PromiseListener(request, resolve, reject);
    try {
      caller.start(request, listener);
    } catch (err) {
      reject(toTaskmeshError(err));
      return;
    }
    if (request.signal !== undefined && !listener.done) {
      const signal = request.signal;
      listener.onAbort = () => caller.abort(request.taskId, abortError(signal), listener);
      signal.addEventListener('abort', listener.onAbort, { once: true });
    }
  });
}
