/**
 * A small stand-in for AbortController/AbortSignal, one per dispatch attempt. Node's
 * AbortController (an EventTarget) costs several microseconds and a lot of garbage to create,
 * about a sixth of the dispatcher's own time per task at full load. This one implements the part
 * of the AbortSignal interface that `TaskCaller.dispatch` and ordinary code use: `aborted`,
 * `reason`, `throwIfAborted()`, `onabort`, and `addEventListener`/`removeEventListener` for 'abort'
 * (once semantics).
 */
export class AttemptAbort {
  aborted = false;
  reason: unknown = undefined;
  onabort: ((this: AttemptAbort, ev: Event) => unknown) | null = null;
  private listeners: Array<(ev: Event) => unknown> | null = null;

  /** The signal to hand to APIs typed with AbortSignal. */
  get signal(): AbortSignal {
    return this as unknown as AbortSignal;
  }

  addEventListener(type: string, listener: ((ev: Event) => unknown) | { handleEvent(ev: Event): unknown } | null): void {
    if (type !== 'abort' || listener === null) return;
    const fn = typeof listener === 'function' ? listener : (ev: Event) => listener.handleEvent(ev);
    (this.listeners ??= []).push(fn);
  }

  removeEventListener(type: string, listener: unknown): void {
    if (type !== 'abort' || this.listeners === null) return;
    const i = this.listeners.indexOf(listener as (ev: Event) => unknown);
    if (i >= 0) this.listeners.splice(i, 1);
  }

  throwIfAborted(): void {
    if (this.aborted) throw this.reason;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.listeners;
    this.listeners = null;
    const event = { type: 'abort', target: this } as unknown as Event;
    this.onabort?.call(this, event);
    if (listeners !== null) for (const fn of listeners) fn(event);
  }
}
