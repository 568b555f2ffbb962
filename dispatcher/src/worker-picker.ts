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

/** One worker as the picker saw it for a pick (GET /v1/tasks/:id/trace). */
interface CandidateView {
  name: string;
  loadRatio: number;
  heartbeatAgeMs: number;
  state: string;
  /** Resting (BUSY, lost a task) or the worker that just failed this task. */
  avoided: boolean;
  /** Lower wins: the estimated load ratio. */
  score: number;
}

/** The latest pick: every candidate and why the chosen one won, in words. */
export interface PickDecision {
  candidates: CandidateView[];
  reason: string;
}

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
  /** Why the latest pick chose its worker (read right after pick, see decision()). */
  private lastReason = '';
  private lastSeen: readonly WorkerView[] = [];
  private lastAvoid: string | null = null;

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
    this.lastSeen = workers;
    this.lastAvoid = avoid;
    if (only !== null) {
      const holder = workers.find((w) => w.name === only);
      if (holder !== undefined) {
        this.lastReason = 'the worker that had it before the dispatcher restarted';
        return holder;
      }
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
    if (eligible.length === 0) {
      this.lastReason = 'the only one left: the others are loaded or resting, and it just failed this task';
      return avoided ?? 'all-loaded';
    }
    if (eligible.length === 1) this.lastReason = workers.length === 1 ? 'only live worker' : 'the only one not loaded or resting';
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
    if (ra === rb) {
      const warm = ra === 0 && b.name === last;
      this.lastReason =
        ra === 0 ? (warm || a.name === last ? 'previous pick on an idle tie' : 'either of two idle ones') : 'either of two equally loaded';
      return warm ? b : a;
    }
    this.lastReason = `less loaded of two (${Math.round(Math.min(ra, rb) * 100)} % against ${Math.round(Math.max(ra, rb) * 100)} %)`;
    return rb < ra ? b : a;
  }

  /** The latest pick's candidates and reason (allocated only when asked, once per attempt). */
  decision(now = this.now()): PickDecision {
    return {
      reason: this.lastReason,
      candidates: this.lastSeen.map((w) => {
        const ratio = estimatedRatio(w);
        return {
          name: w.name,
          loadRatio: Math.round(ratio * 1000) / 1000,
          heartbeatAgeMs: Math.max(0, now - w.lastHeartbeatAt),
          state: w.state,
          avoided: w.avoidUntil > now || w.name === this.lastAvoid,
          score: Math.round(ratio * 1000) / 1000,
        };
      }),
    };
  }
}
