// Baseline: node:http answering every request with an empty 200. Usage: node node-hello.mjs PORT
import { createServer } from 'node:http';

createServer((_req, res) => {
  res.writeHead(200, { 'Content-Length': '0' });
  res.end();
}).listen(Number(process.argv[2]), '127.0.0.1', () => process.stdout.write('listening\n'));
