// Servers wsload did not write, for its session tests, on 127.0.0.1 and a port of the
// system's choosing, printed as the first line of standard output. Ends with SIGTERM.
//   node servers.js graphql N DELAY_MS  graphql-ws: subscription { count } streams N
//                                       results {"count": i}, DELAY_MS apart
//   node servers.js jsonrpc             rpc-websockets: method "sum" adds its params;
//                                       "echo" returns them
'use strict';

const kind = process.argv[2];

function serveGraphql(results, delayMs) {
  const { WebSocketServer } = require('ws');
  const { useServer } = require('graphql-ws/lib/use/ws');
  const { buildSchema } = require('graphql');
  const schema = buildSchema(`
    type Query { hello: String }
    type Subscription { count: Int }
  `);
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const roots = {
    query: { hello: () => 'world' },
    subscription: {
      count: async function* () {
        for (let i = 1; i <= results; ++i) {
          await sleep(delayMs);
          yield { count: i };
        }
      },
    },
  };
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  server.on('listening', () => console.log(server.address().port));
  useServer({ schema, roots }, server);
}

function serveJsonRpc() {
  const { Server } = require('rpc-websockets');
  const server = new Server({ host: '127.0.0.1', port: 0 });
  server.register('sum', (params) => params.reduce((a, b) => a + b, 0));
  server.register('echo', (params) => params);
  server.wss.on('listening', () => console.log(server.wss.address().port));
}

if (kind === 'graphql') {
  serveGraphql(Number(process.argv[3] || 5), Number(process.argv[4] || 20));
} else if (kind === 'jsonrpc') {
  serveJsonRpc();
} else {
  console.error('usage: node servers.js graphql N DELAY_MS | jsonrpc');
  process.exit(2);
}
