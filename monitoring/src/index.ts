export { createMonitoring } from './monitoring.js';
export type { Monitoring, MonitoringOptions, TasksTopic } from './monitoring.js';
export { Hub, SNAPSHOT_TOPICS, FEED_TOPICS, FEED_HISTORY } from './hub.js';
export type { HubMessage, Topic, SnapshotTopic, FeedTopic } from './hub.js';
export { createHttpApp, PUBLIC_DIR } from './http-app.js';
export { attachWsRoutes } from './ws-routes.js';
export { TOKEN_COOKIE, tokenMatches } from './auth.js';
export { joinWorkers, containerOf } from './worker-join.js';
export type { WorkerView } from './worker-join.js';
export { ThroughputSeries, DispatcherStats } from './throughput-series.js';
export type { ThroughputView } from './throughput-series.js';
export { DockerSource, TASKMESH_CORE_SERVICES } from './sources/docker-source.js';
export type { DockerStatus, DockerSourceOptions, ProjectSource } from './sources/docker-source.js';
export {
  containerView,
  statsSample,
  dockerEventView,
  projectOf,
  serviceOf,
  COMPOSE_PROJECT_LABEL,
  COMPOSE_SERVICE_LABEL,
} from './sources/docker-view.js';
export type { ContainerView, DockerEventView, StatsSample } from './sources/docker-view.js';
export { RunnerSource } from './sources/runner-source.js';
export type { ProcessView, ProcessesSnapshot } from './sources/runner-source.js';
export { NameserviceSource } from './sources/nameservice-source.js';
export type { NameserviceSnapshot } from './sources/nameservice-source.js';
export { DispatcherSource } from './sources/dispatcher-source.js';
export type { TasksSnapshot } from './sources/dispatcher-source.js';
export { ImageRelay } from './sources/image-relay.js';
export type { ImageRelayStatus } from './sources/image-relay.js';
