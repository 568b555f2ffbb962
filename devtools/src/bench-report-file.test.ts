import { test } from 'node:test';
import assert from 'node:assert/strict';
import { machineLine, notesOf, renderBenchReport } from './bench-report-file.js';

test('the bench report names the machine, the date and the settings beside the figures', () => {
  const at = new Date('2026-12-01T08:00:00.000Z');
  const text = renderBenchReport(
    {
      sections: [
        { heading: 'journal: process', tables: '│ batch │ throughput │ 41,457 tasks/s │\n', cpu: 'CPU time over 4.6 s: dispatcher 3.09 s' },
        { heading: 'journal: machine', tables: '│ batch │ throughput │ 30,001 tasks/s │\n', cpu: 'CPU time over 5.0 s: dispatcher 3.50 s' },
      ],
      settings: '--tasks 50000',
      at,
    },
    '2 × Test CPU, 24.0 GiB',
  );
  assert.match(text, /^# taskmesh benchmark\n/);
  assert.match(text, /on 2026-12-01T08:00:00\.000Z; measured on 2 × Test CPU, 24\.0 GiB\./);
  assert.match(text, /Settings: --tasks 50000\./);
  assert.match(text, /41,457 tasks\/s/);
  assert.match(
    text,
    /## journal: process\n\n```\n│ batch │ throughput │ 41,457 tasks\/s │\nCPU time over 4\.6 s: dispatcher 3\.09 s\n```\n/,
  );
  assert.match(text, /## journal: machine\n\n```\n│ batch │ throughput │ 30,001 tasks\/s │\n.*dispatcher 3\.50 s\n```\n$/);
  assert.match(machineLine(), /^\d+ × .+, \d+\.\d GiB, Linux .+, Node v\d+/);
});

test('a rewritten report keeps the notes of the one it replaces, and its figures line goes last', () => {
  const at = new Date('2026-12-08T08:00:00.000Z');
  const earlier = renderBenchReport({
    sections: [{ heading: 'journal: process', tables: 'old tables\n', cpu: '' }],
    settings: 'the defaults',
    at,
    notes: '## Notes\n\nWhere the time went, and what each change bought.',
    figures: '<!-- bench-figures {"p50Ms":1} -->',
  });
  const notes = notesOf(earlier);
  assert.equal(notes, '## Notes\n\nWhere the time went, and what each change bought.');
  const next = renderBenchReport({
    sections: [{ heading: 'journal: process', tables: 'new tables\n', cpu: '' }],
    settings: 'the defaults',
    at,
    ...(notes === undefined ? {} : { notes }),
    figures: '<!-- bench-figures {"p50Ms":0.9} -->',
  });
  assert.match(
    next,
    /new tables\n```\n\n## Notes\n\nWhere the time went, and what each change bought\.\n\n<!-- bench-figures \{"p50Ms":0\.9\} -->\n$/,
  );
  assert.doesNotMatch(next, /old tables|"p50Ms":1\}/);
  assert.equal(notesOf('# a report without notes'), undefined);
});
