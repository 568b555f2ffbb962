import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO_ROOT, startLocalSuite, type LocalSuite } from '@taskmesh/shared/testing';

// Page-side checks are written as expressions: this workspace compiles without the DOM library.

/**
 * The dashboard in a real headless Chromium against a real local suite: workers listed, the
 * throughput figure moving when tasks run, live image frames arriving. Saves a screenshot to
 * test-output/dashboard.png. Needs Debian's chromium at /usr/bin/chromium; skips without it.
 */
const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.log(`dashboard browser test: skipped, no Chromium at ${CHROMIUM} (apt-get install -y chromium)`);

const NO_DOCKER = 'unix:///nonexistent/taskmesh-test/docker.sock';
const SCREENSHOT = join(REPO_ROOT, 'test-output', 'dashboard.png');

describe('dashboard in Chromium', { skip: hasChromium ? false : `no Chromium at ${CHROMIUM}` }, () => {
  let suite: LocalSuite;
  let browser: Browser;
  let page: Page;

  before(async () => {
    suite = await startLocalSuite({
      workers: ['reverse', 'reverse', 'image'],
      monitoring: true,
      monitoringEnv: { DOCKER_HOST: NO_DOCKER, TASKMESH_MONITORING_POLL_MS: '500' },
      dispatcherEnv: { TASKMESH_CHAOS: '1' },
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1440, height: 1300 } });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(suite.monitoringUrl!);
    assert.deepEqual(errors, [], 'the page loads without script errors');
  });
  after(async () => {
    await browser?.close();
    await suite?.stop();
  });

  test('lists the workers with load bars and state badges', async () => {
    await page.waitForFunction("document.querySelectorAll('#workers-table tr[data-worker].live').length === 3", null, { timeout: 15_000 });
    const types = await page.$$eval('#workers-table tr[data-worker] td:nth-child(2)', (tds) => tds.map((td) => td.textContent).sort());
    assert.deepEqual(types, ['image', 'reverse', 'reverse']);
    assert.equal(await page.locator('#workers-table tr[data-worker] .bar').count(), 3);
  });

  test('submitting tasks moves the throughput figures', async () => {
    await page.waitForFunction("document.getElementById('kpi-finished').textContent !== '–'", null, { timeout: 15_000 });
    const before = Number(await page.textContent('#kpi-finished'));
    const tasks = Array.from({ length: 60 }, (_, i) => ({ type: 'reverse', payload: { text: `dashboard ${i}` } }));
    const res = await fetch(`${suite.dispatcherUrl}/v1/tasks/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tasks }),
    });
    assert.ok(res.status < 300, `batch answered ${res.status}`);
    await page.waitForFunction(`Number(document.getElementById('kpi-finished').textContent) >= ${before + 60}`, null, { timeout: 20_000 });
    // The 10-second rate counts complete seconds only, so it moves a second after the tasks finish.
    await page.waitForFunction("Number(document.getElementById('kpi-throughput').textContent) > 0", null, { timeout: 15_000 });
    assert.ok((await page.locator('#task-events li').count()) > 0, 'task events are listed');
    assert.equal(await page.locator('#throughput-chart canvas').count(), 1, 'the uPlot chart is drawn');
  });

  test('live image frames arrive', async () => {
    await page.waitForFunction("document.getElementById('live-image').naturalWidth > 0", null, { timeout: 20_000 });
    const first = await page.getAttribute('#live-image', 'src');
    await page.waitForFunction(
      `document.getElementById('live-image').src !== ${JSON.stringify(first)} && document.getElementById('live-image').naturalWidth > 0`,
      null,
      { timeout: 20_000 },
    );
  });

  test('without Docker the processes panel says so', async () => {
    await page.waitForFunction("document.getElementById('containers-title').textContent === 'Processes'", null, { timeout: 10_000 });
    assert.match((await page.textContent('#docker-banner')) ?? '', /Docker not connected/);
    assert.equal(await page.getAttribute('#docker-events', 'data-empty'), 'Docker not connected: no container events');
    assert.equal(await page.textContent('#docker-events-note'), 'needs Docker');
  });

  test("a task's page opens by its deep link: timeline, attempts with the candidates and the reason, payload and result", async () => {
    const res = await fetch(`${suite.dispatcherUrl}/v1/tasks?wait=10000`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'reverse', payload: { text: 'deep link' } }),
    });
    const { id } = (await res.json()) as { id: string };
    const taskPage = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
    try {
      const errors: string[] = [];
      taskPage.on('pageerror', (err) => errors.push(err.message));
      await taskPage.goto(`${suite.monitoringUrl}/tasks/${id}`);
      await taskPage.waitForFunction("document.body.dataset.loaded === 'true'", null, { timeout: 15_000 });
      assert.deepEqual(errors, []);
      assert.equal(await taskPage.textContent('#task-id'), id);
      assert.equal(await taskPage.locator('#attempts .attempt').count(), 1);
      assert.ok(((await taskPage.textContent('#attempts .reason')) ?? '').length > 0, 'the reason is shown');
      assert.equal(await taskPage.locator('#attempts .candidates tbody tr').count(), 2, 'both reverse workers as candidates');
      assert.equal(await taskPage.locator('#timeline li[data-event="succeeded"]').count(), 1);
      assert.match((await taskPage.textContent('#result')) ?? '', /knil peed/);
      await mkdir(join(REPO_ROOT, 'test-output'), { recursive: true });
      await taskPage.screenshot({ path: join(REPO_ROOT, 'test-output', 'task.png'), fullPage: true });
    } finally {
      await taskPage.close();
    }
  });

  test('a task id in the events list opens its page', async () => {
    const link = page.locator('#task-events a.task-link').first();
    await link.waitFor({ timeout: 15_000 });
    const href = await link.getAttribute('href');
    await link.click();
    await page.waitForURL(/\/tasks\//, { timeout: 10_000 });
    await page.waitForFunction("document.body.dataset.loaded === 'true'", null, { timeout: 15_000 });
    assert.equal(new URL(page.url()).pathname, href);
    await page.goBack();
    await page.waitForFunction("document.querySelectorAll('#workers-table tr[data-worker]').length > 0", null, { timeout: 15_000 });
  });

  test('a worker whose link degrades is highlighted, its link figures live in the workers table', async () => {
    const victim = suite.workers.find((w) => w.name === 'worker-reverse')!;
    const name = String(victim.ready.name);
    await page.waitForFunction(
      `document.querySelector('#workers-table tr[data-worker="${name}"] .link-col')?.textContent.includes('retx')`,
      null,
      {
        timeout: 20_000,
      },
    );
    process.kill(victim.pid, 'SIGSTOP');
    try {
      const tasks = Array.from({ length: 20 }, (_, i) => ({ type: 'reverse', payload: { text: `stopped ${i}` }, timeoutMs: 8000 }));
      await fetch(`${suite.dispatcherUrl}/v1/tasks/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ tasks }),
      });
      await page.waitForFunction(
        `document.querySelector('#workers-table tr[data-worker="${name}"]')?.classList.contains('degraded')`,
        null,
        {
          timeout: 20_000,
        },
      );
      await mkdir(join(REPO_ROOT, 'test-output'), { recursive: true });
      await page.screenshot({ path: join(REPO_ROOT, 'test-output', 'degraded-link.png'), fullPage: false });
    } finally {
      process.kill(victim.pid, 'SIGCONT');
    }
  });

  test("chaos: the loss button drops a share of a worker's datagrams, and its row shows the fault and the link degrading", async () => {
    // The worker one-at-a-time tasks go to now (an idle tie keeps the previous pick): the lossy one.
    const probe = (await (
      await fetch(`${suite.dispatcherUrl}/v1/tasks?wait=10000`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'reverse', payload: { text: 'which worker' } }),
      })
    ).json()) as { worker: string };
    const name = probe.worker;
    const button = `#workers-table button[data-chaos="loss"][data-worker="${name}"]`;
    await page.waitForSelector(button, { timeout: 15_000 });
    // Without a runner (no IPC channel) only loss is offered.
    assert.equal(await page.$(`#workers-table button[data-chaos="kill"][data-worker="${name}"]`), null);
    await page.click(button);
    await page.waitForFunction(
      `document.querySelector('#workers-table tr[data-worker="${name}"] .chaos-col')?.textContent.includes('loss 30')`,
      null,
      { timeout: 10_000 },
    );
    // One at a time: tasks sent together share a datagram, and loss is per datagram.
    for (let i = 0; i < 30; i++) {
      await fetch(`${suite.dispatcherUrl}/v1/tasks?wait=10000`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'reverse', payload: { text: `lossy ${i}` } }),
      });
    }
    await page.waitForFunction(`document.querySelector('#workers-table tr[data-worker="${name}"]')?.classList.contains('degraded')`, null, {
      timeout: 20_000,
    });
    const status = (await (await fetch(`${suite.dispatcherUrl}/v1/chaos`)).json()) as {
      faults: Array<{ worker: string; dropped: number }>;
    };
    assert.ok((status.faults.find((f) => f.worker === name)?.dropped ?? 0) > 0, JSON.stringify(status));
    await mkdir(join(REPO_ROOT, 'test-output'), { recursive: true });
    await page.screenshot({ path: join(REPO_ROOT, 'test-output', 'chaos-loss.png'), fullPage: false });
    // Ended here rather than 30 s on: the tests after this one send tasks to that worker too.
    const ended = await fetch(`${suite.dispatcherUrl}/v1/chaos/loss`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ worker: name, percent: 0 }),
    });
    assert.equal(ended.status, 200);
    await page.waitForFunction(
      `!document.querySelector('#workers-table tr[data-worker="${name}"] .chaos-col')?.textContent.includes('loss 30 % ·')`,
      null,
      { timeout: 10_000 },
    );
  });

  test('finding tasks by the time they were submitted, a page at a time', async () => {
    // datetime-local takes the page's local time to the second; Chromium runs in this process's zone.
    const local = (ms: number): string => {
      const d = new Date(ms);
      const p = (n: number): string => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
    };
    await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000)));
    const from = Date.now();
    const res = await fetch(`${suite.dispatcherUrl}/v1/tasks/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        tasks: Array.from({ length: 130 }, (_, i) => ({ type: 'image', payload: { width: 16, height: 16, text: `page ${i}` } })),
      }),
    });
    const { ids } = (await res.json()) as { ids: string[] };
    await fetch(`${suite.dispatcherUrl}/v1/tasks/${ids.at(-1)}?wait=30000`);
    await page.fill('#find-form input[name="type"]', 'image');
    await page.fill('#find-form input[name="since"]', local(from));
    await page.click('#find-form button[type="submit"]');
    await page.waitForFunction("document.querySelectorAll('#find-table tbody tr a.task-link').length === 100", null, { timeout: 10_000 });
    assert.match((await page.textContent('#find-note')) ?? '', /100 found, more on the next page/);
    await page.click('#find-more');
    await page.waitForFunction("document.querySelectorAll('#find-table tbody tr a.task-link').length === 130", null, { timeout: 10_000 });
    assert.equal(await page.isHidden('#find-more'), true);
    // A range that ends before they were submitted finds none of them.
    await page.fill('#find-form input[name="since"]', '');
    await page.fill('#find-form input[name="until"]', local(from - 1000));
    await page.click('#find-form button[type="submit"]');
    await page.waitForFunction("!document.getElementById('find-note').textContent.includes('130')", null, { timeout: 10_000 });
    const shown = await page.$$eval('#find-table tbody tr a.task-link code', (codes) => codes.map((c) => c.getAttribute('title')));
    assert.deepEqual(
      shown.filter((id) => ids.includes(id ?? '')),
      [],
    );
    await page.fill('#find-form input[name="until"]', '');
  });

  test('finding the failed tasks of a type and retrying them all, after a confirmation', async () => {
    // Five reverse tasks fail: both reverse workers are stopped past the tasks' timeout.
    const reverse = suite.workers.filter((w) => w.name === 'worker-reverse');
    for (const w of reverse) process.kill(w.pid, 'SIGSTOP');
    let ids: string[];
    try {
      const res = await fetch(`${suite.dispatcherUrl}/v1/tasks/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          tasks: Array.from({ length: 5 }, (_, i) => ({ type: 'reverse', payload: { text: `bulk ${i}` }, timeoutMs: 400, maxAttempts: 1 })),
        }),
      });
      ids = ((await res.json()) as { ids: string[] }).ids;
      // Each ends failed (TIMEOUT) while its workers are stopped.
      for (const id of ids) {
        const record = (await (await fetch(`${suite.dispatcherUrl}/v1/tasks/${id}?wait=10000`)).json()) as { status: string };
        assert.equal(record.status, 'failed');
      }
    } finally {
      for (const w of reverse) process.kill(w.pid, 'SIGCONT');
    }
    await page.fill('#find-form input[name="type"]', 'reverse');
    await page.selectOption('#find-form select[name="status"]', 'failed');
    await page.click('#find-form button[type="submit"]');
    await page.waitForFunction("document.querySelectorAll('#find-table tbody tr a.task-link').length >= 5", null, { timeout: 10_000 });
    let asked = '';
    page.once('dialog', (dialog) => {
      asked = dialog.message();
      void dialog.accept();
    });
    await page.click('#bulk-retry');
    await page.waitForFunction("/retried|failed/.test(document.getElementById('find-note').textContent)", null, { timeout: 10_000 });
    assert.match((await page.textContent('#find-note')) ?? '', /retried \d+ of \d+/);
    assert.match(asked, /retry every failed task that matches/);
    for (const id of ids) {
      const record = (await (await fetch(`${suite.dispatcherUrl}/v1/tasks/${id}?wait=10000`)).json()) as { status: string };
      assert.equal(record.status, 'succeeded');
    }
  });

  test('a screenshot is saved', async () => {
    await mkdir(join(REPO_ROOT, 'test-output'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.ok(existsSync(SCREENSHOT));
  });
});
