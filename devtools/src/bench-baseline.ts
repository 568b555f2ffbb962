import type { BenchReport } from '@taskmesh/client';

/**
 * The figures a bench run is compared on, kept in the report file it writes (one HTML comment, so
 * the file stays readable) and read back by the next run: what changed since, and whether it
 * collapsed. Figures are compared as measured and against the host floor measured in the same run
 * (throughput × floor, latency ÷ floor), since the same build on the same VM runs at very
 * different speeds from day to day.
 */
export interface BenchFigures {
  batchTasksPerSecond?: number;
  cpuMicrosPerTask?: number;
  p50Ms?: number;
  p99Ms?: number;
  largeMegabytesPerSecond?: number;
  largeAloneP50Ms?: number;
  /** npm start's suite as it is (see bench-public.ts). */
  publicTasksPerSecond?: number;
  publicP50Ms?: number;
  /** The host floor's p50 in the same run (a bare HTTP relay and UDP echo). */
  floorP50Ms?: number;
}

type Figure = Exclude<keyof BenchFigures, 'floorP50Ms'>;

/** Each figure's name in the comparison, and whether more of it is better. */
const FIGURES: ReadonlyArray<{ key: Figure; name: string; higherIsBetter: boolean }> = [
  { key: 'batchTasksPerSecond', name: 'batch throughput', higherIsBetter: true },
  { key: 'cpuMicrosPerTask', name: 'dispatcher CPU per task', higherIsBetter: false },
  { key: 'p50Ms', name: 'submit-and-wait p50', higherIsBetter: false },
  { key: 'p99Ms', name: 'submit-and-wait p99', higherIsBetter: false },
  { key: 'largeMegabytesPerSecond', name: 'large payloads', higherIsBetter: true },
  { key: 'largeAloneP50Ms', name: 'one large task alone p50', higherIsBetter: false },
  { key: 'publicTasksPerSecond', name: "npm start's suite: throughput", higherIsBetter: true },
  { key: 'publicP50Ms', name: "npm start's suite: submit-and-wait p50", higherIsBetter: false },
];

const MARKER = 'bench-figures';

export function figuresOf(report: BenchReport): BenchFigures {
  const figures: BenchFigures = {};
  if (report.batch) {
    figures.batchTasksPerSecond = report.batch.tasksPerSecond;
    if (report.batch.dispatcherCpuMicrosPerTask !== null) figures.cpuMicrosPerTask = report.batch.dispatcherCpuMicrosPerTask;
  }
  if (report.latency) {
    figures.p50Ms = report.latency.latencyMs.p50;
    figures.p99Ms = report.latency.latencyMs.p99;
  }
  if (report.large) {
    figures.largeMegabytesPerSecond = report.large.megabytesPerSecond;
    figures.largeAloneP50Ms = report.large.aloneMs.p50;
  }
  if (report.hostFloor) figures.floorP50Ms = report.hostFloor.latencyMs.p50;
  return figures;
}

/** The figures of the public workload's run. */
export function publicFiguresOf(report: BenchReport): BenchFigures {
  const figures: BenchFigures = {};
  if (report.batch) figures.publicTasksPerSecond = report.batch.tasksPerSecond;
  if (report.latency) figures.publicP50Ms = report.latency.latencyMs.p50;
  return figures;
}

/** The line the report file carries its figures in. */
export const figuresLine = (figures: BenchFigures): string => `<!-- ${MARKER} ${JSON.stringify(figures)} -->`;

/** The figures a report file carries, or undefined (none, or not readable). */
export function readFigures(text: string): BenchFigures | undefined {
  const match = new RegExp(`<!-- ${MARKER} (\\{.*\\}) -->`).exec(text);
  if (match === null) return undefined;
  try {
    const parsed = JSON.parse(match[1]!) as unknown;
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const out: BenchFigures = {};
    for (const key of [...FIGURES.map((f) => f.key), 'floorP50Ms'] as const) {
      const value = (parsed as Record<string, unknown>)[key];
      if (typeof value === 'number' && Number.isFinite(value) && value > 0) out[key] = value;
    }
    return out;
  } catch {
    return undefined;
  }
}

export interface FigureChange {
  name: string;
  before: number;
  now: number;
  /** How many times worse (> 1) or better (< 1) it is, against the host floor when both runs measured one. */
  worseBy: number;
  /** Whether worseBy is against the floor (else as measured). */
  againstFloor: boolean;
}

/** Each figure both runs measured, with how much worse (or better) it is now. */
export function compareFigures(before: BenchFigures, now: BenchFigures): FigureChange[] {
  const floors =
    before.floorP50Ms !== undefined && now.floorP50Ms !== undefined ? { before: before.floorP50Ms, now: now.floorP50Ms } : undefined;
  const changes: FigureChange[] = [];
  for (const { key, name, higherIsBetter } of FIGURES) {
    const a = before[key];
    const b = now[key];
    if (a === undefined || b === undefined) continue;
    // A figure against the floor: throughput × floor (tasks per floor round trip), latency ÷ floor.
    const scale = (value: number, floor: number): number => (higherIsBetter ? value * floor : value / floor);
    const [x, y] = floors === undefined ? [a, b] : [scale(a, floors.before), scale(b, floors.now)];
    changes.push({ name, before: a, now: b, worseBy: higherIsBetter ? x / y : y / x, againstFloor: floors !== undefined });
  }
  return changes;
}

/** Lines saying what changed since the earlier run. */
export function formatChanges(changes: readonly FigureChange[], collapseFactor: number | undefined): string {
  if (changes.length === 0) return 'compared with the earlier figures: nothing in common to compare';
  const rows = changes.map((c) => {
    const pct = Math.round((c.worseBy - 1) * 100);
    const word = pct === 0 ? 'unchanged' : pct > 0 ? `${pct}% worse` : `${-pct}% better`;
    const flag = collapseFactor !== undefined && c.worseBy > collapseFactor ? `  ← more than ${collapseFactor}× worse` : '';
    return `  ${c.name}: ${round(c.before)} → ${round(c.now)} (${word}${c.againstFloor ? ', against the host floor' : ''})${flag}`;
  });
  return ['compared with the earlier figures:', ...rows].join('\n');
}

const round = (value: number): string => (value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toPrecision(3));
