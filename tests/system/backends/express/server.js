// The test backend on Express: the five handlers every backend here serves, each counting its
// runs; GET /__hits (asked of this port directly, never through sluice) returns the counts.
// Express's defaults are kept on purpose: routes match case-insensitively and ignore a trailing
// slash, as in most Express apps.
//
// Run: node tests/system/backends/express/server.js PORT
'use strict';

const express = require('express');

const port = Number(process.argv[2]);
const app = express();
const hits = {};

function handler(name) {
  return (req, res) => {
    hits[name] = (hits[name] || 0) + 1;
    res.json({ handler: name, method: req.method, path: req.path, headers: req.headers });
  };
}

app.get('/__hits', (req, res) => res.json(hits));
app.get('/api/system/stats', handler('stats'));
app.post('/api/auth/register', handler('register'));
app.all('/health', handler('health'));
app.use('/api/admin/', handler('admin'));
app.use(handler('none'));

const server = app.listen(port, '127.0.0.1');
server.keepAliveTimeout = 75000;
