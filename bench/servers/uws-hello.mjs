// Baseline: the physical limit of this uWS build on one core. Answers every request with an
// empty 200, as tokengate answers an allow. Usage: node uws-hello.mjs PORT
import { createRequire } from 'node:module';

const uws = createRequire(import.meta.url)(
  `uWebSockets.js/binaries/uws_${process.platform}_${process.arch}_${process.versions.modules}.node`,
);
const port = Number(process.argv[2]);
uws
  .App()
  .any('/*', (res) => {
    res.writeStatus('200 OK');
    res.end();
  })
  .listen('127.0.0.1', port, (socket) => {
    if (!socket) process.exit(1);
    process.stdout.write('listening\n');
  });
