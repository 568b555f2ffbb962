export { createDispatcher } from './dispatcher.js';
export type { Dispatcher, DispatcherOptions } from './dispatcher.js';
export { dispatcherEnvSpec } from './config.js';
export type { StatsSnapshot } from './task-stats.js';
export { STREAM_DEFAULT_FPS, STREAM_MAX_FPS } from './image-stream.js';
export { MAX_WAIT_MS } from './task-handlers.js';
