/**
 * Something that can be aborted, whose AbortController is made only when someone asks for its
 * signal: most tasks end without any handler looking at it, and a controller and its signal are a
 * few objects per task on the hot path. The holder keeps the two fields itself (a task record, a
 * queue entry), so no object is added per task.
 */
export interface LazyAbortable {
  controller: AbortController | undefined;
  /** Why it was aborted; undefined until it is. */
  abortReason: unknown;
}

/** The holder's signal, made on first use; already aborted, with its reason, if the holder was. */
export function lazySignal(holder: LazyAbortable): AbortSignal {
  if (holder.controller === undefined) {
    holder.controller = new AbortController();
    if (holder.abortReason !== undefined) holder.controller.abort(holder.abortReason);
  }
  return holder.controller.signal;
}

/** Aborts the holder with `reason` (a signal made later starts aborted); false if it already was. */
export function abortLazily(holder: LazyAbortable, reason: NonNullable<unknown>): boolean {
  if (holder.abortReason !== undefined) return false;
  holder.abortReason = reason;
  holder.controller?.abort(reason);
  return true;
}
