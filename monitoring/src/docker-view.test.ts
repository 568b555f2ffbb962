import { test } from 'node:test';
import assert from 'node:assert/strict';
import type Dockerode from 'dockerode';
import {
  containerView,
  dockerEventView,
  dockerTime,
  isInterestingAction,
  projectOf,
  serviceOf,
  statsSample,
} from './sources/docker-view.js';
import { containerOf } from './worker-join.js';
import { withSocketHint } from './sources/docker-source.js';
import type { WorkerRecord } from '@taskmesh/shared';
import { workerRecord } from '@taskmesh/shared/testing';

// Shapes as the Docker Engine API (v1.4x) answers them, trimmed to the fields read.
const sample = {
  read: '2026-01-01T00:00:01Z',
  preread: '2026-01-01T00:00:00Z',
  cpu_stats: { cpu_usage: { total_usage: 2_500_000_000 }, system_cpu_usage: 120_000_000_000, online_cpus: 4 },
  precpu_stats: { cpu_usage: { total_usage: 2_000_000_000 }, system_cpu_usage: 116_000_000_000, online_cpus: 4 },
  memory_stats: { usage: 50 * 1024 * 1024, limit: 1024 * 1024 * 1024, stats: { inactive_file: 10 * 1024 * 1024 } },
} as unknown as Dockerode.ContainerStats;

test('CPU percent and memory follow the docker CLI formulas', () => {
  const s = statsSample(sample);
  // 0.5 s of CPU over 4 s of system time on 4 CPUs = 50% of one core.
  assert.equal(s.cpuPercent, 50);
  assert.equal(s.memoryBytes, 40 * 1024 * 1024);
  assert.equal(s.memoryLimitBytes, 1024 * 1024 * 1024);
  // The first sample of a stream has no previous CPU reading.
  const first = statsSample({ ...sample, precpu_stats: { cpu_usage: { total_usage: 0 } } } as unknown as Dockerode.ContainerStats);
  assert.equal(first.cpuPercent, null);
});

const info = {
  Id: 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9',
  Names: ['/taskmesh-worker-reverse-1'],
  Image: 'taskmesh:latest',
  State: 'exited',
  Status: 'Exited (137) 5 seconds ago',
  Labels: { 'com.docker.compose.project': 'taskmesh', 'com.docker.compose.service': 'worker-reverse' },
} as unknown as Dockerode.ContainerInfo;
const inspect = {
  RestartCount: 2,
  State: { Status: 'exited', StartedAt: '2026-01-01T00:00:00Z', FinishedAt: '2026-01-01T00:10:00Z', ExitCode: 137 },
  Config: { Hostname: 'a1b2c3d4e5f6', Tty: false },
  NetworkSettings: { Networks: { taskmesh_default: { IPAddress: '' } } },
} as unknown as Dockerode.ContainerInspectInfo;

test('a stopped container keeps its name, service, exit code and restart count', () => {
  const v = containerView(info, inspect, { cpuPercent: 12, memoryBytes: 1, memoryLimitBytes: 2 }, Date.parse('2026-01-01T00:20:00Z'));
  assert.equal(v.name, 'taskmesh-worker-reverse-1');
  assert.equal(v.service, 'worker-reverse');
  assert.equal(v.state, 'exited');
  assert.equal(v.exitCode, 137);
  assert.equal(v.restartCount, 2);
  assert.equal(v.uptimeMs, null);
  assert.equal(v.cpuPercent, null, 'no stale stats for a stopped container');
  assert.equal(v.finishedAt, Date.parse('2026-01-01T00:10:00Z'));
  assert.deepEqual(v.ipAddresses, []);
  assert.equal(dockerTime('0001-01-01T00:00:00Z'), null);
});

test('events: container events are kept, exec noise and other types are not', () => {
  const e = dockerEventView({
    Type: 'container',
    Action: 'die',
    Actor: { ID: info.Id, Attributes: { name: 'w', exitCode: '137', 'com.docker.compose.service': 'worker-reverse' } },
    timeNano: 1_700_000_000_123_000_000,
  });
  assert.deepEqual(e, { at: 1_700_000_000_123, action: 'die', id: info.Id, name: 'w', service: 'worker-reverse', exitCode: 137 });
  assert.equal(dockerEventView({ Type: 'network', Action: 'connect', Actor: { ID: 'x' } }), null);
  assert.equal(dockerEventView('garbage'), null);
  assert.equal(isInterestingAction('exec_start: sh -c healthcheck'), false);
  assert.equal(isInterestingAction('health_status: unhealthy'), true);
});

test('a worker is matched to its container by meta, address or hostname', () => {
  const running = { ...containerView(info, inspect, undefined, 0), state: 'running', ipAddresses: ['172.18.0.5'] };
  const other = { ...running, id: 'ffff' + running.id.slice(4), name: 'other', hostname: 'other', ipAddresses: ['172.18.0.9'] };
  const worker = (host: string, meta?: Record<string, string>): WorkerRecord => workerRecord({ name: 'w', host, port: 1, meta });
  assert.equal(containerOf(worker('10.0.0.1', { containerId: running.id.slice(0, 12) }), [other, running])?.id, running.id);
  assert.equal(containerOf(worker('172.18.0.5'), [other, running])?.id, running.id);
  assert.equal(containerOf(worker('a1b2c3d4e5f6'), [other, running])?.id, running.id);
  assert.equal(containerOf(worker('10.9.9.9'), [other, running]), undefined);
});

test('Swarm stack containers get their project and service from the stack labels', () => {
  const labels = { 'com.docker.stack.namespace': 'taskmesh', 'com.docker.swarm.service.name': 'taskmesh_worker-reverse' };
  assert.equal(projectOf(labels), 'taskmesh');
  assert.equal(serviceOf(labels), 'worker-reverse');
  assert.equal(projectOf({}), null);
  assert.equal(serviceOf({ 'com.docker.compose.service': 'dispatcher', ...labels }), 'dispatcher');
});

test('an unreachable Docker socket says what to do: the group, the mount, the engine', () => {
  assert.match(
    withSocketHint('connect EACCES /var/run/docker.sock'),
    /without a user: override.*DOCKER_GID=\$\(stat -c %g \/var\/run\/docker.sock\)/,
  );
  assert.match(
    withSocketHint('connect ENOENT /nope.sock'),
    /^connect ENOENT \/nope.sock \(no Docker socket here: mount \/var\/run\/docker.sock/,
  );
  assert.match(withSocketHint('connect ECONNREFUSED 10.0.0.9:2375'), /is the Docker engine, or its socket proxy, running\?/);
  assert.equal(withSocketHint('socket hang up'), 'socket hang up');
});
