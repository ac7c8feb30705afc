/**
 * `workers: "auto"` follows the CPUs the process may use: affinity, and the CPU quota of its
 * cgroup and of every parent (v2 cpu.max, v1 cfs quota). The file layouts are those of Docker,
 * Kubernetes and systemd hosts; the last tests run the real service under taskset and inside a
 * real cgroup v1 CPU limit made for the test.
 */
import { existsSync, mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { cpuBudget } from '../../src/service/cpu-budget.js';
import { docBlock } from '../helpers/doc-blocks.js';
import { logLines, startService, tempDir, writeConfig } from '../helpers/service-process.js';

const files = (entries: Record<string, string>) => (path: string) => entries[path];
const v2Mount = '30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate\n';
const v1Mounts = (root: string) =>
  `31 23 0:28 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755\n` +
  `35 31 0:32 ${root} /sys/fs/cgroup/cpu,cpuacct ro,nosuid - cgroup cgroup rw,cpu,cpuacct\n` +
  `36 31 0:33 ${root} /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory\n`;

describe('cpuBudget', () => {
  it('cgroup v2 in a container (Kubernetes limits.cpu: 1500m on a 30-CPU node): 2, logged as docs/operations.md shows', () => {
    const budget = cpuBudget(
      files({ '/proc/self/mountinfo': v2Mount, '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '150000 100000\n' }),
      30,
    );
    expect(budget.cpus).toBe(2);
    const shown = JSON.parse(docBlock('docs/operations.md', 'workers-auto-log')) as Record<string, unknown>;
    expect(shown).toEqual({ level: 'info', time: expect.any(String), workers: 2, reason: budget.reason, msg: 'workers "auto"' });
    expect(budget.reason).toBe(
      'CPU limit of 1.5 CPU(s), rounded up (cgroup v2 /sys/fs/cgroup/cpu.max "150000 100000"); 30 CPU(s) this process may run on (affinity and cpuset)',
    );
  });

  it('cgroup v2 on a host: the tightest limit along the path binds (a parent slice)', () => {
    const read = files({
      '/proc/self/mountinfo': v2Mount,
      '/proc/self/cgroup': '0::/kubepods.slice/pod-a/ctr-b\n',
      '/sys/fs/cgroup/kubepods.slice/pod-a/ctr-b/cpu.max': 'max 100000\n',
      '/sys/fs/cgroup/kubepods.slice/pod-a/cpu.max': '300000 100000\n',
      '/sys/fs/cgroup/kubepods.slice/cpu.max': '800000 100000\n',
    });
    expect(cpuBudget(read, 16).cpus).toBe(3);
    expect(cpuBudget(read, 16).reason).toContain('/sys/fs/cgroup/kubepods.slice/pod-a/cpu.max');
  });

  it("cgroup v1 in a Docker container (--cpus=0.5; the mount root is the container's cgroup): 1", () => {
    const read = files({
      '/proc/self/mountinfo': v1Mounts('/docker/0123abcd'),
      '/proc/self/cgroup': '5:memory:/docker/0123abcd\n4:cpu,cpuacct:/docker/0123abcd\n0::/system.slice/docker.service\n',
      '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '50000\n',
      '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n',
    });
    expect(cpuBudget(read, 8)).toEqual({
      cpus: 1,
      reason:
        'CPU limit of 0.5 CPU(s), rounded up (cgroup v1 /sys/fs/cgroup/cpu,cpuacct cpu.cfs_quota_us 50000 / cpu.cfs_period_us 100000); 8 CPU(s) this process may run on (affinity and cpuset)',
    });
  });

  it('cgroup v1 on a host: the cgroup below the mount point, and its parents', () => {
    const read = files({
      '/proc/self/mountinfo': v1Mounts('/'),
      '/proc/self/cgroup': '4:cpu,cpuacct:/system.slice/tokengate.service\n',
      '/sys/fs/cgroup/cpu,cpuacct/system.slice/tokengate.service/cpu.cfs_quota_us': '-1\n',
      '/sys/fs/cgroup/cpu,cpuacct/system.slice/tokengate.service/cpu.cfs_period_us': '100000\n',
      '/sys/fs/cgroup/cpu,cpuacct/system.slice/cpu.cfs_quota_us': '400000\n',
      '/sys/fs/cgroup/cpu,cpuacct/system.slice/cpu.cfs_period_us': '100000\n',
      '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '-1\n',
      '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n',
    });
    expect(cpuBudget(read, 32).cpus).toBe(4);
  });

  it.each([
    [
      'no limit (v2 "max")',
      { '/proc/self/mountinfo': v2Mount, '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': 'max 100000\n' },
    ],
    ['no cgroup files (not Linux)', {}],
    ['garbage in cpu.max', { '/proc/self/mountinfo': v2Mount, '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '0 0\n' }],
    ['a zero quota', { '/proc/self/mountinfo': v2Mount, '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '0 100000\n' }],
  ])('%s: the CPUs of the affinity mask', (_name, entries) => {
    expect(cpuBudget(files(entries), 6)).toEqual({
      cpus: 6,
      reason: '6 CPU(s) this process may run on (affinity and cpuset); no cgroup CPU limit',
    });
  });

  it('a limit above the affinity mask leaves the mask', () => {
    const read = files({
      '/proc/self/mountinfo': v2Mount,
      '/proc/self/cgroup': '0::/\n',
      '/sys/fs/cgroup/cpu.max': '800000 100000\n',
    });
    expect(cpuBudget(read, 2).cpus).toBe(2);
    expect(cpuBudget(read, 2).reason).toMatch(/the CPU limit \(cgroup v2 .*"800000 100000"\) allows as many$/);
  });
});

describe('workers "auto" in the real service (uws engine)', () => {
  const config = () =>
    writeConfig(tempDir(), {
      engine: 'uws',
      workers: 'auto',
      admin: { port: 0 },
      listeners: [{ name: 'auth', port: 0, pathPrefix: '/tokengate', clientIpInPath: true }],
      routes: [{ prefix: '/my/', scheme: 'azion', keys: [{ id: 'k', publicDemoSecret: 'mysecret' }] }],
    });
  const autoLine = (stderr: string) => logLines(stderr).find((line) => line.msg === 'workers "auto"');

  it('pinned to one CPU with taskset: 1 worker, and the log says why', async () => {
    const service = await startService(['serve', '--config', config()], {}, 2, undefined, ['taskset', '-c', '0']);
    try {
      expect(autoLine(service.stderr())).toMatchObject({
        workers: 1,
        reason: expect.stringMatching(/^1 CPU\(s\) this process may run on/),
      });
    } finally {
      await service.stop();
    }
  });

  // A real CPU quota needs a cgroup v1 cpu hierarchy and root to write it (this machine kind, and
  // its CI, mount one at /sys/fs/cgroup/cpu and run as root). Where both exist the case runs and
  // fails if it cannot make its cgroup; elsewhere (not root, cgroup v2 only) it is skipped, and
  // its name says why.
  const cgroupRoot = '/sys/fs/cgroup/cpu';
  const cgroup = `${cgroupRoot}/tokengate-test-${process.pid}`;
  const hierarchy = existsSync(`${cgroupRoot}/cpu.cfs_quota_us`) && process.getuid?.() === 0;
  afterAll(() => {
    if (existsSync(cgroup)) rmdirSync(cgroup);
  });

  it.skipIf(!hierarchy)(
    'inside a cgroup v1 limited to 0.5 CPU: 1 worker, the cgroup named (skipped without root and a cgroup v1 cpu hierarchy)',
    async () => {
      mkdirSync(cgroup);
      writeFileSync(`${cgroup}/cpu.cfs_period_us`, '100000');
      writeFileSync(`${cgroup}/cpu.cfs_quota_us`, '50000');
      const enter = ['sh', '-c', `echo $$ > ${cgroup}/cgroup.procs && exec "$0" "$@"`];
      const service = await startService(['serve', '--config', config()], {}, 2, undefined, enter);
      try {
        expect(autoLine(service.stderr())).toMatchObject({
          workers: 1,
          reason: expect.stringContaining(`cgroup v1 ${cgroup} cpu.cfs_quota_us 50000 / cpu.cfs_period_us 100000`),
        });
      } finally {
        await service.stop();
      }
    },
  );
});
