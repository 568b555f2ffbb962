import { estimatedRatio, type WorkerDirectory, type WorkerView } from './worker-directory.js';

export interface WorkerPickerOptions {
  directory: WorkerDirectory;
  /** Workers whose estimated load ratio is above this are skipped. */
  loadThreshold: number;
  random?: () => number;
  now?: () => number;
}

/** Why no worker was chosen. */
export type NoWorker = 'lookup-pending' | 'none-live' | 'all-loaded';

/**
 * Worker selection by "power of two choices": two random eligible workers of the type, the less
 * loaded one wins. Compared with always taking the least loaded it avoids herding on one worker
 * between load reports, at the cost of a slightly worse pick. Between two idle workers the type's
 * previous pick wins: one task at a time stays on one warm process rather than waking two in turn.
 */
export class WorkerPicker {
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly eligible: WorkerView[] = [];
  /** The last pick per type: between two idle candidates it wins again, its process being the warm one. */
  private readonly lastPick = new Map<string, string>();

  constructor(private readonly options: WorkerPickerOptions) {
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
  }

  /**
   * A worker for a task of `type`, preferring one other than `avoid`; or why there is none.
   * `only`, when live, is taken whatever its load: the worker that may still hold the task.
   */
  pick(type: string, avoid: string | null = null, only: string | null = null): WorkerView | NoWorker {
    const workers = this.options.directory.candidates(type);
    if (workers === undefined) return 'lookup-pending';
    if (workers.length === 0) return 'none-live';
    if (only !== null) {
      const holder = workers.find((w) => w.name === only);
      if (holder !== undefined) return holder;
    }
    const now = this.now();
    const eligible = this.eligible;
    eligible.length = 0;
    let avoided: WorkerView | undefined;
    for (const w of workers) {
      if (w.avoidUntil > now || estimatedRatio(w) > this.options.loadThreshold) continue;
      if (w.name === avoid) avoided = w;
      else eligible.push(w);
    }
    // The worker that just failed this task is the last resort, not excluded for good.
    if (eligible.length === 0) return avoided ?? 'all-loaded';
    const chosen = eligible.length === 1 ? eligible[0]! : this.lessLoadedOfTwo(eligible, this.lastPick.get(type));
    this.lastPick.set(type, chosen.name);
    return chosen;
  }

  private lessLoadedOfTwo(eligible: WorkerView[], last: string | undefined): WorkerView {
    const n = eligible.length;
    const i = Math.floor(this.random() * n);
    let j = Math.floor(this.random() * (n - 1));
    if (j >= i) j++;
    const a = eligible[i]!;
    const b = eligible[j]!;
    const ra = estimatedRatio(a);
    const rb = estimatedRatio(b);
    // Idle and tied: the previous pick, warm. Busy workers are warm anyway; there a random one.
    if (ra === rb) return ra === 0 && b.name === last ? b : a;
    return rb < ra ? b : a;
  }
}
