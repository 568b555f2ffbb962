import { cpus, release, totalmem } from 'node:os';

/** What the bench's report file says about the run beyond the figures. */
export interface BenchRun {
  /** Each measured configuration: a heading (the journal's sync policy), its tables (formatBenchReport) and where the CPU time went. */
  sections: Array<{ heading: string; tables: string; cpu: string }>;
  /** The failover bound's lines, when it was measured. */
  failover?: string;
  /** The command line's settings, as given. */
  settings: string;
  /** The main run's figures, for the next run to compare with (see bench-baseline.ts). */
  figures?: string;
  /** The report's notes, kept from the file it replaces (see notesOf). */
  notes?: string;
  at: Date;
}

/** The machine a run measured: the figures mean nothing without it. */
export function machineLine(): string {
  const cores = cpus();
  const model = cores[0]?.model.trim() ?? 'unknown CPU';
  const gib = (totalmem() / 2 ** 30).toFixed(1);
  return `${cores.length} × ${model}, ${gib} GiB, Linux ${release()}, Node ${process.version}`;
}

/**
 * The report `npm run bench` writes (BENCHMARK.md by default): its figures with the machine and the
 * date they were measured on, so no document carries figures edited by hand.
 */
export function renderBenchReport(run: BenchRun, machine: string = machineLine()): string {
  return [
    '# taskmesh benchmark',
    '',
    `Written by \`npm run bench\` on ${run.at.toISOString()}; measured on ${machine}.`,
    `Settings: ${run.settings}. Run it again to replace this file; the same build varies from run to`,
    'run on a shared VM, so compare several runs in alternating order before drawing a conclusion.',
    '',
    ...run.sections.flatMap((section) => [
      `## ${section.heading}`,
      '',
      '```',
      section.tables.trimEnd(),
      ...(section.cpu === '' ? [] : [section.cpu]),
      '```',
      '',
    ]),
    ...(run.failover === undefined ? [] : ['## failover', '', '```', run.failover, '```', '']),
    ...(run.notes === undefined ? [] : [run.notes.trimEnd(), '']),
    ...(run.figures === undefined ? [] : [run.figures, '']),
  ].join('\n');
}

const NOTES_HEADING = '## Notes';

/**
 * The notes section of a report (from its "## Notes" heading to its end, the figures line left
 * out): what was changed and what each change bought, written by people and kept when the bench
 * rewrites the file, since the figures above them are the bench's own.
 */
export function notesOf(report: string): string | undefined {
  const at = report.indexOf(`\n${NOTES_HEADING}\n`);
  if (at < 0) return undefined;
  return report
    .slice(at + 1)
    .replace(/<!-- bench-figures .* -->\s*$/, '')
    .trimEnd();
}
