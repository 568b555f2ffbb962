export { ERROR_CODES, TaskError, TaskmeshError, handlerFailure, toTaskmeshError, isErrorCode } from './errors.js';
export type { ErrorCode, ErrorBody, TaskmeshErrorOptions } from './errors.js';
export { createLogger, logReady, silentLogger } from './logger.js';
export { JsonText, jsonWith, textOrBytes } from './json-text.js';
export type { Logger, LogLevel, LoggerOptions } from './logger.js';
export {
  ConfigError,
  loadConfig,
  envPort,
  envInt,
  envString,
  envOptionalString,
  envBool,
  envList,
  splitList,
  envLogLevel,
  DEFAULT_PORTS,
  DEVELOPMENT_SECRET,
  MIN_SECRET_LENGTH,
  resolveSecret,
} from './config.js';
export type { EnvSpec, ConfigOf } from './config.js';
export { exitOnSignals, loadConfigOrExit, openApiCheckOrExit, runMain, secretOrExit } from './service-main.js';
export {
  SIGNATURE_HEADER,
  REQUEST_SIGNATURE_WINDOW_MS,
  MAX_REMEMBERED_SIGNATURES,
  RequestVerifier,
  deriveKey,
  signRequest,
} from './request-signing.js';
export type { SignedRequest, SignatureVerdict } from './request-signing.js';
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
  EndpointId,
  MAX_META_ENTRIES,
  MAX_META_KEY_LENGTH,
  MAX_META_VALUE_LENGTH,
  RegisterRequest,
  HeartbeatRequest,
  WorkerState,
  WorkerRecord,
  LeaseResponse,
  WorkerListResponse,
  RegistryFile,
  WorkerDownRequest,
  CONTAINER_ID_PATTERN,
  WorkerDownResponse,
  RegistryChange,
  MAX_REGISTRY_CHANGE_BYTES,
  WATCH_PING_INTERVAL_MS,
} from './registry.js';
export type { FinalStatus } from './tasks-api.js';
export {
  MAX_BATCH_TASKS,
  TaskStatus,
  TaskFilter,
  EVENTS_SEQ_HEADER,
  eventsStartSeq,
  SLOW_SUBSCRIBER_CLOSE_CODE,
  SINCE_TOO_OLD_CLOSE_CODE,
  TASK_FILTER_FIELDS,
  isFinalStatus,
  SubmitTaskRequest,
  SubmitBatchRequest,
  SubmitTaskResponse,
  SubmitBatchResponse,
  TaskRecord,
  TaskListItem,
  TaskListResponse,
  TaskEventKind,
  TaskEvent,
  TypeListResponse,
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
  RESULT_CACHE_MAX_BYTES,
  UdpEndpoint,
  frameKey,
  TaskCaller,
  TaskServer,
} from './transport/index.js';
export type {
  RetransmitPolicy,
  Address,
  EndpointStats,
  DropReason,
  UdpEndpointOptions,
  DatagramSend,
  MessageListener,
  DispatchListener,
  DispatchTarget,
  DispatchOutcome,
  TaskCallerOptions,
  TaskServerOptions,
  TaskServerStats,
  TaskContext,
  TaskExecutor,
  LinkHealth,
} from './transport/index.js';
// tracing (W3C traceparent, OTLP export when OTEL_EXPORTER_OTLP_ENDPOINT is set)
export {
  parseTraceparent,
  formatTraceparent,
  randomTraceId,
  randomSpanId,
  openSpanExport,
  TRACE_SAMPLERS,
  traceDecision,
} from './tracing/index.js';
export type { TraceParent, SpanRecord, SpanExport, TraceSamplerName, TraceSampling, TraceStart } from './tracing/index.js';
// chaos controls
export {
  ChaosAction,
  ChaosRequest,
  ChaosResponse,
  ChaosFault,
  ChaosStatus,
  DEFAULT_CHAOS_FOR_MS,
  MAX_CHAOS_FOR_MS,
  CHAOS_KEY_PURPOSE,
  ProcessAction,
  ContainerChaosRequest,
  RunnerChaosRequest,
  RunnerChaosAnswer,
} from './chaos-api.js';
// nameservice client
export { NameserviceClient, NAMESERVICE_CLIENT_TIMEOUT_MS, NAMESERVICE_KEY_PURPOSE, nameserviceKey } from './nameservice-client.js';
export type { NameserviceClientOptions } from './nameservice-client.js';
export { WorkerListQuery } from './registry.js';
// task types: the built-in contracts (payload schemas and limits, defined once)
export {
  BUILTIN_CONTRACTS,
  BUILTIN_TYPE_NAMES,
  HASH_ALGORITHMS,
  HASH_ENCODINGS,
  HashPayload,
  IMAGE_FORMATS,
  IMAGE_MAX_SIDE,
  IMAGE_MAX_TEXT,
  IMAGE_MIN_SIDE,
  ImagePayload,
  MAX_SUM_ELEMENTS,
  MAX_TEXT_LENGTH,
  MAX_WAIT_MS,
  ReversePayload,
  SumPayload,
  UpperPayload,
  WaitPayload,
  defineContract,
  findContract,
  formatPath,
  hashContract,
  imageContract,
  reverseContract,
  sumContract,
  upperContract,
  validatePayload,
  waitContract,
  ContractDescriptor,
  MAX_CONTRACT_SCHEMA_BYTES,
  contractFingerprint,
  describeContract,
} from './task-types/index.js';
export type { QueueDefaults, SumTerm, TaskContract } from './task-types/index.js';
// the HTTP edge
export { RequestGuard, requestUrl } from './http/request-guard.js';
export { refuseUpgrade } from './http/refuse-upgrade.js';
export { WS_PING_INTERVAL_MS, WsHeartbeat } from './http/ws-heartbeat.js';
export { bearerToken, tokenMatches } from './http/bearer-token.js';
export { parseOrThrow } from './http/parse-or-throw.js';
export { answerError, callService } from './http/service-call.js';
export type { ServiceAnswer, ServiceCall } from './http/service-call.js';
export { QUEUE_FULL_RETRY_AFTER_S, errorAnswer, expressErrorHandler, logErrorAnswer } from './http/error-answer.js';
export type { ErrorAnswerOptions } from './http/error-answer.js';
export type { RequestGuardOptions } from './http/request-guard.js';
export { HTTP_LIMIT_DEFAULTS, createHttpServer, httpLimitsEnvSpec, httpLimitsOf } from './http/http-limits.js';
export type { HttpFigures, HttpGuard, HttpLimitCounters, HttpLimits } from './http/http-limits.js';
export { BodyBudget } from './http/body-budget.js';
export { createServiceMetrics, registerHttpMetrics } from './http/http-metrics.js';
export type { ScrapedCounter, ServiceMetrics } from './http/http-metrics.js';
export { isJsonRequest, jsonBodyParser, readJsonBody } from './http/json-body.js';
export type { JsonBodyDone, JsonBodyOptions } from './http/json-body.js';
export { HeadQueue } from './head-queue.js';
export { LogLimiter, clipped } from './log-limiter.js';
export { describeUnknown, messageText } from './describe.js';
