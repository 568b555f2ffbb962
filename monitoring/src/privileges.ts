import { statSync } from 'node:fs';

/** The unprivileged user and group monitoring runs as once it has joined the socket's group. */
export const MONITORING_UID = 10001;
export const MONITORING_GID = 10001;

export interface PrivilegeDropOptions {
  /** DOCKER_HOST: only a unix socket has a group to join. */
  dockerHost: string;
  /** DOCKER_GID, when set: the group to join instead of the socket's. */
  overrideGid?: number | undefined;
  uid?: number;
  gid?: number;
  /** The process calls; injectable so the logic is tested without root. */
  proc?: Pick<NodeJS.Process, 'getuid' | 'geteuid' | 'getgid' | 'getegid' | 'getgroups' | 'setgroups' | 'setgid' | 'setuid'>;
  /** The group owning a path (fs.statSync by default). */
  groupOf?: (path: string) => number;
}

export type PrivilegeDrop =
  { dropped: false; reason: string } | { dropped: true; uid: number; gid: number; groups: number[]; socketGroup: number | undefined };

/** The path of a `unix://` DOCKER_HOST, or undefined for tcp://, npipe:// and the like. */
export function unixSocketPath(dockerHost: string): string | undefined {
  if (!dockerHost.startsWith('unix://')) return undefined;
  const path = dockerHost.slice('unix://'.length);
  return path === '' ? undefined : path;
}

/**
 * Started as root (the monitoring image does), monitoring joins the group that owns the Docker
 * socket and becomes MONITORING_UID:MONITORING_GID, in the order that leaves nothing behind:
 * setgroups (the socket's group only), setgid, setuid. Then it checks that no root uid or gid is
 * left (the socket's own group excepted when it is 0, as on Docker Desktop). Not root (`npm start`,
 * a compose file with its own `user:`): nothing to do. Called before any request is served.
 */
export function dropPrivileges(options: PrivilegeDropOptions): PrivilegeDrop {
  const proc = options.proc ?? process;
  if (typeof proc.getuid !== 'function' || typeof proc.setuid !== 'function')
    return { dropped: false, reason: 'this platform has no user ids' };
  if (proc.getuid() !== 0) return { dropped: false, reason: `running as uid ${proc.getuid()}, not root` };
  const uid = options.uid ?? MONITORING_UID;
  const gid = options.gid ?? MONITORING_GID;
  const socket = unixSocketPath(options.dockerHost);
  let socketGroup = options.overrideGid;
  if (socketGroup === undefined && socket !== undefined) {
    try {
      socketGroup = (options.groupOf ?? ((path: string) => statSync(path).gid))(socket);
    } catch {
      socketGroup = undefined; // no socket mounted: the dashboard says so
    }
  }
  const groups = socketGroup === undefined ? [] : [socketGroup];
  proc.setgroups!(groups);
  proc.setgid!(gid);
  proc.setuid(uid);
  const ids = [proc.getuid(), proc.geteuid!(), proc.getgid!(), proc.getegid!()];
  const left = proc.getgroups!().filter((g) => g === 0 && g !== socketGroup);
  if (ids.some((id) => id === 0) || left.length > 0 || proc.getuid() !== uid || proc.getgid!() !== gid) {
    throw new Error(`could not drop root: uid/euid/gid/egid ${ids.join('/')}, groups ${proc.getgroups!().join(',')}`);
  }
  return { dropped: true, uid, gid, groups: proc.getgroups!(), socketGroup };
}
