// The test backend as a plain Node http server that routes on the WHATWG URL parser's pathname
// (new URL(req.url, base)), as hand-written Node routers often do. That parser turns '\' into
// '/', resolves '.' and '..' segments (encoded ones too) and reads a leading '//' as the start
// of an authority. The five handlers every backend here serves each count their runs; GET
// /__hits (asked of this port directly, never through sluice) returns the counts.
//
// Run: node tests/system/backends/node_whatwg/server.js PORT
'use strict';

const http = require('http');

const port = Number(process.argv[2]);
const hits = {};

function route(method, pathname) {
  if (pathname === '/api/system/stats' && (method === 'GET' || method === 'HEAD')) return 'stats';
  if (pathname === '/api/auth/register' && method === 'POST') return 'register';
  if (pathname === '/health') return 'health';
  if (pathname.startsWith('/api/admin/')) return 'admin';
  return 'none';
}

function reply(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json',
                          'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer((req, res) => {
  let url;
  try {
    url = new URL(req.url, 'http://x');
  } catch (e) {
    reply(res, 400, { error: 'bad url' });
    return;
  }
  if (url.pathname === '/__hits') {
    reply(res, 200, hits);
    return;
  }
  const name = route(req.method, url.pathname);
  hits[name] = (hits[name] || 0) + 1;
  reply(res, 200, { handler: name, method: req.method, path: url.pathname, headers: req.headers });
});

server.keepAliveTimeout = 75000;
server.listen(port, '127.0.0.1');
