/**
 * How many CPUs this process may use, for `workers: "auto"`: the CPUs it may run on (affinity,
 * cpuset: `os.availableParallelism()`), capped by the CPU quota of its cgroup and of every
 * parent cgroup (v2 `cpu.max`, v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`), rounded up. A pod
 * with `limits.cpu: 1500m` on a 30-core node gets 2 workers, not 30.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { posix } from 'node:path';

export interface CpuBudget {
  readonly cpus: number;
  /** Why this number, for the startup log. */
  readonly reason: string;
}

/** Reads a file's text, or undefined when it cannot be read (absent, not a cgroup system). */
export type TextReader = (path: string) => string | undefined;

const readText: TextReader = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

interface CgroupMount {
  readonly version: 1 | 2;
  /** The cgroup path the mount shows at its mount point (not "/" inside some containers). */
  readonly root: string;
  readonly mountPoint: string;
}

/** The cgroup2 mount, and the v1 mount that carries the cpu controller, from /proc/self/mountinfo. */
function cgroupMounts(mountinfo: string): { v1?: CgroupMount; v2?: CgroupMount } {
  const found: { v1?: CgroupMount; v2?: CgroupMount } = {};
  for (const line of mountinfo.split('\n')) {
    const [before, after] = line.split(' - ');
    if (before === undefined || after === undefined) continue;
    const fields = before.split(' ');
    const [fsType, , superOptions = ''] = after.split(' ');
    const root = fields[3];
    const mountPoint = fields[4];
    if (root === undefined || mountPoint === undefined) continue;
    // mountinfo escapes spaces and other bytes as octal (\040).
    const unescapeOctal = (text: string) =>
      text.replace(/\\([0-7]{3})/g, (_m, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
    if (fsType === 'cgroup2') found.v2 ??= { version: 2, root: unescapeOctal(root), mountPoint: unescapeOctal(mountPoint) };
    if (fsType === 'cgroup' && superOptions.split(',').includes('cpu')) {
      found.v1 ??= { version: 1, root: unescapeOctal(root), mountPoint: unescapeOctal(mountPoint) };
    }
  }
  return found;
}

/** This process's cgroup path for v2 ("0::/path") or for the v1 hierarchy with the cpu controller. */
function cgroupPath(procCgroup: string, version: 1 | 2): string | undefined {
  for (const line of procCgroup.split('\n')) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (match === null) continue;
    if (version === 2 && match[1] === '0' && match[2] === '') return match[3];
    if (version === 1 && match[2]!.split(',').includes('cpu')) return match[3];
  }
  return undefined;
}

/** Directories from this cgroup's up to the mount point: a parent's limit binds its children. */
function cgroupDirs(mount: CgroupMount, path: string, read: TextReader, probe: string): string[] {
  const relative = posix.relative(mount.root, path);
  // Outside the mount's root (a container that sees only its own cgroup): the mount point is ours.
  const start =
    relative.startsWith('..') || read(posix.join(mount.mountPoint, relative, probe)) === undefined
      ? mount.mountPoint
      : posix.join(mount.mountPoint, relative);
  const dirs = [start];
  for (let dir = start; dir !== mount.mountPoint && dir.startsWith(mount.mountPoint); ) {
    dir = posix.dirname(dir);
    dirs.push(dir);
  }
  return dirs;
}

/** The tightest quota along the cgroup path, as CPUs (1.5 = 150 ms per 100 ms), with the file that set it. */
function cgroupQuota(read: TextReader): { cpus: number; source: string } | undefined {
  const mountinfo = read('/proc/self/mountinfo');
  const procCgroup = read('/proc/self/cgroup');
  if (mountinfo === undefined || procCgroup === undefined) return undefined;
  const mounts = cgroupMounts(mountinfo);
  let tightest: { cpus: number; source: string } | undefined;
  const consider = (cpus: number, source: string) => {
    if (Number.isFinite(cpus) && cpus > 0 && (tightest === undefined || cpus < tightest.cpus)) tightest = { cpus, source };
  };
  const v2Path = mounts.v2 && cgroupPath(procCgroup, 2);
  if (mounts.v2 !== undefined && v2Path !== undefined) {
    for (const dir of cgroupDirs(mounts.v2, v2Path, read, 'cpu.max')) {
      const file = posix.join(dir, 'cpu.max');
      const match = /^(max|\d+) (\d+)\s*$/.exec(read(file) ?? '');
      if (match !== null && match[1] !== 'max')
        consider(Number(match[1]) / Number(match[2]), `cgroup v2 ${file} "${match[1]} ${match[2]}"`);
    }
  }
  const v1Path = mounts.v1 && cgroupPath(procCgroup, 1);
  if (mounts.v1 !== undefined && v1Path !== undefined) {
    for (const dir of cgroupDirs(mounts.v1, v1Path, read, 'cpu.cfs_quota_us')) {
      const quota = Number((read(posix.join(dir, 'cpu.cfs_quota_us')) ?? '').trim());
      const period = Number((read(posix.join(dir, 'cpu.cfs_period_us')) ?? '').trim());
      if (quota > 0 && period > 0)
        consider(quota / period, `cgroup v1 ${dir} cpu.cfs_quota_us ${quota} / cpu.cfs_period_us ${period}`);
    }
  }
  return tightest;
}

export function cpuBudget(read: TextReader = readText, usable: number = availableParallelism()): CpuBudget {
  const quota = cgroupQuota(read);
  const affinity = `${usable} CPU(s) this process may run on (affinity and cpuset)`;
  if (quota === undefined || Math.ceil(quota.cpus) >= usable) {
    return {
      cpus: usable,
      reason:
        quota === undefined ? `${affinity}; no cgroup CPU limit` : `${affinity}; the CPU limit (${quota.source}) allows as many`,
    };
  }
  const cpus = Math.max(1, Math.ceil(quota.cpus));
  return { cpus, reason: `CPU limit of ${Number(quota.cpus.toFixed(3))} CPU(s), rounded up (${quota.source}); ${affinity}` };
}
