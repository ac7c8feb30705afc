// Baseline: the Azion validator a user writes in 30 lines with node:http and node:crypto
// (no URI rules, no strict grammar, no constant-time compare). Usage: node naive-node.mjs PORT SECRET
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';

const secret = process.argv[3];
createServer((req, res) => {
  const uri = req.headers['x-original-uri'] ?? '';
  const q = uri.indexOf('?');
  const params = new URLSearchParams(q < 0 ? '' : uri.slice(q + 1));
  const path = q < 0 ? uri : uri.slice(0, q);
  const e = params.get('e') ?? '';
  const st = createHash('md5')
    .update(secret + path + e)
    .digest('base64url');
  let status = 403;
  if (st === params.get('st')) status = Number(e) < Date.now() / 1000 ? 410 : 200;
  res.writeHead(status, { 'Content-Length': '0' });
  res.end();
}).listen(Number(process.argv[2]), '127.0.0.1', () => process.stdout.write('listening\n'));
