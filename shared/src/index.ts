export { ERROR_CODES, TaskmeshError, toTaskmeshError, httpStatusOf, isErrorCode } from './errors.js';
export type { ErrorCode, ErrorBody, TaskmeshErrorOptions } from './errors.js';
export { createLogger, logReady, silentLogger } from './logger.js';
export type { Logger, LogLevel, LoggerOptions } from './logger.js';
export {
  ConfigError,
  loadConfig,
  envPort,
  envInt,
  envString,
  envOptionalString,
  envBool,
  envLogLevel,
  DEFAULT_PORTS,
  DEVELOPMENT_SECRET,
  resolveSecret,
} from './config.js';
export type { EnvSpec, ConfigOf } from './config.js';
export { exitOnSignals, loadConfigOrExit, runMain } from './service-main.js';
export type { ShutdownOptions } from './service-main.js';
export {
  PROTOCOL_VERSION,
  MAX_RESULT_ACK_IDS,
  TaskId,
  TaskType,
  LoadReport,
  loadRatio,
  WireError,
  TaskMessage,
  AckMessage,
  ProgressMessage,
  ResultOutcome,
  ResultMessage,
  ResultAckMessage,
  CancelMessage,
  CancelAckMessage,
  Message,
  parseMessage,
} from './protocol.js';
export type { MessageKind, Outgoing, ParseResult } from './protocol.js';
export {
  HEARTBEAT_INTERVAL_MS,
  MISSED_HEARTBEATS_BEFORE_EXPIRY,
  LEASE_TTL_MS,
  WorkerName,
  RegisterRequest,
  HeartbeatRequest,
  WorkerState,
  WorkerRecord,
  LeaseResponse,
  WorkerListResponse,
  RegistryFile,
} from './registry.js';
export {
  MAX_BATCH_TASKS,
  TaskStatus,
  isFinalStatus,
  SubmitTaskRequest,
  SubmitBatchRequest,
  SubmitTaskResponse,
  SubmitBatchResponse,
  TaskRecord,
  TaskListResponse,
  TaskEventKind,
  TaskEvent,
  ErrorResponse,
} from './tasks-api.js';
export { RunnerProcess, RunnerState } from './runner-state.js';
export { backoffDelay, delay } from './backoff.js';
export { abortLazily, lazySignal } from './lazy-abort.js';
export type { LazyAbortable } from './lazy-abort.js';
export type { BackoffPolicy } from './backoff.js';
// transport (UDP framing, authentication, chunking, task caller/server)
export {
  MAX_CHUNK_PAYLOAD,
  LOOPBACK_DATAGRAM_PAYLOAD,
  MAX_MESSAGE_BYTES,
  MAX_DATAGRAM_BYTES,
  FRAME_VERSION,
  REPLAY_WINDOW_MS,
  REPLAY_BITMAP_WIDTH,
  MAX_REPLAY_SENDERS,
  NACK_DELAY_MS,
  MAX_NACKS,
  OUTBOX_TTL_MS,
  DEFAULT_RETRANSMIT,
  KEEPALIVE_INTERVAL_MS,
  KEEPALIVE_TIMEOUT_MS,
  RESULT_CACHE_TTL_MS,
  RESULT_CACHE_MAX,
  UdpEndpoint,
  TaskCaller,
  TaskServer,
} from './transport/index.js';
export type {
  RetransmitPolicy,
  Address,
  EndpointStats,
  DropReason,
  UdpEndpointOptions,
  MessageListener,
  DispatchListener,
  DispatchRequest,
  DispatchTarget,
  DispatchOutcome,
  TaskCallerOptions,
  TaskServerOptions,
  TaskServerStats,
  TaskContext,
  TaskExecutor,
} from './transport/index.js';
// nameservice client
export { NameserviceClient, NAMESERVICE_CLIENT_TIMEOUT_MS } from './nameservice-client.js';
export type { NameserviceClientOptions } from './nameservice-client.js';
export { WorkerListQuery } from './registry.js';
