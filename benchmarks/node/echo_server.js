// A WebSocket echo server (npm package ws) for scripts/round-trip-benchmark.sh and the
// compression tests: prints its port once listening, answers each message with the same
// message (text as text, binary as binary). With --deflate it accepts permessage-deflate
// and compresses every reply, however small (ws's default leaves those under 1 KiB alone).
const { WebSocketServer } = require('ws');

const deflate = process.argv.includes('--deflate');
const server = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  perMessageDeflate: deflate ? { threshold: 0 } : false,
});
server.on('listening', () => console.log(server.address().port));
server.on('connection', (socket) => {
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
});
