export { spawnService } from './spawn-service.js';
export type { SpawnServiceOptions, RunningService, ReadyLine } from './spawn-service.js';
export { startLocalSuite, serviceScript, REPO_ROOT, TEST_SECRET } from './local-suite.js';
export type { LocalSuite, LocalSuiteOptions } from './local-suite.js';
export { readDatagram, signedDatagram } from './frames.js';
export { eventually } from './eventually.js';
export type { EventuallyOptions } from './eventually.js';
export { dispatch } from './dispatch.js';
export type { DispatchRequest } from './dispatch.js';
