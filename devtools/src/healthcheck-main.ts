#!/usr/bin/env node
import { checkHttp, checkWorkerRegistered, localAddresses, type HealthResult } from './healthcheck.js';

/**
 * `node devtools/dist/healthcheck-main.js <nameservice|dispatcher|monitoring|worker>`: the
 * HEALTHCHECK command of the images. Reads the service's own TASKMESH_* variables (Docker runs
 * it with the container's environment); exits 0 when healthy, 1 otherwise, with one line.
 * It imports nothing heavy (no @taskmesh/shared index): it runs every few seconds in every
 * container, and must answer well within the check's timeout on a busy machine.
 */
const HTTP_SERVICES = {
  nameservice: { portEnv: 'TASKMESH_NAMESERVICE_PORT', port: 7100 },
  dispatcher: { portEnv: 'TASKMESH_DISPATCHER_PORT', port: 7200 },
  monitoring: { portEnv: 'TASKMESH_MONITORING_PORT', port: 7300 },
} as const;

/** The monitoring image starts as root (see privileges.ts); its health check need not be. */
function dropRoot(): void {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return;
  process.setgroups?.([]);
  process.setgid?.(10001);
  process.setuid?.(10001);
}

async function check(target: string | undefined): Promise<HealthResult> {
  if (target === 'worker') {
    return checkWorkerRegistered({
      nameserviceUrl: process.env.TASKMESH_NAMESERVICE_URL || `http://127.0.0.1:${HTTP_SERVICES.nameservice.port}`,
      addresses: localAddresses(),
      ...(process.env.TASKMESH_WORKER_NAME ? { name: process.env.TASKMESH_WORKER_NAME } : {}),
    });
  }
  if (target !== undefined && Object.hasOwn(HTTP_SERVICES, target)) {
    const svc = HTTP_SERVICES[target as keyof typeof HTTP_SERVICES];
    const port = process.env[svc.portEnv] || String(svc.port);
    return checkHttp(`http://127.0.0.1:${port}/healthz`);
  }
  return { healthy: false, detail: `usage: healthcheck-main.js <${[...Object.keys(HTTP_SERVICES), 'worker'].join('|')}>` };
}

dropRoot();
const result = await check(process.argv[2]);
process.stdout.write(`${result.healthy ? 'healthy' : 'unhealthy'}: ${result.detail}\n`);
process.exit(result.healthy ? 0 : 1);
