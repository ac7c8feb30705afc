// Baseline for the gRPC door: a bare node:http2 server answering every stream, once its request
// has ended, with the bytes tokengate's Check answered for the same request (a gRPC message) and
// the grpc-status trailer: HTTP/2 framing and nothing else. Usage: node http2-floor.mjs PORT RESPONSE_HEX
import { createServer } from 'node:http2';

const body = Buffer.from(process.argv[3] ?? '', 'hex');
const headers = { ':status': 200, 'content-type': 'application/grpc' };
const trailers = { 'grpc-status': '0' };
const server = createServer();
server.on('stream', (stream) => {
  stream.on('data', () => {});
  stream.on('end', () => {
    stream.respond(headers, { waitForTrailers: true });
    stream.once('wantTrailers', () => stream.sendTrailers(trailers));
    stream.end(body);
  });
});
server.listen(Number(process.argv[2]), '127.0.0.1', () => process.stdout.write('listening\n'));
