import { watchFile } from 'node:fs';
import type { Logger } from '../base/log.js';

/**
 * `reloadOnChange`: polls the config file and every key file it read (stat every 2 s, which
 * also sees Kubernetes' atomic symlink swaps of mounted ConfigMaps and Secrets) and calls
 * `onChange` once the files have settled. Call the returned function with the files of each new
 * config: key files a reload added are watched from then on.
 */
export function configWatcher(onChange: () => void, logger: Logger): (paths: Iterable<string>) => void {
  let timer: NodeJS.Timeout | undefined;
  const watched = new Set<string>();
  return (paths) => {
    for (const path of paths) {
      // Fetched documents are recorded by their URL; their refresh is remote-refresh.ts's.
      if (watched.has(path) || /^https?:\/\//.test(path)) continue;
      watched.add(path);
      watchFile(path, { interval: 2000, persistent: false }, (now, before) => {
        if (now.mtimeMs === before.mtimeMs && now.ino === before.ino && now.size === before.size) return;
        clearTimeout(timer);
        // Editors and kubelet write in steps: reload once the files have settled.
        timer = setTimeout(() => {
          logger.log('info', 'config or key file changed; reloading', { file: path });
          onChange();
        }, 300);
      });
    }
  };
}
