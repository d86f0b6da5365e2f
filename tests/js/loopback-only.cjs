// Preloaded into the Agents Playground (`node --require ./loopback-only.cjs …`) to keep it on loopback:
// it calls server.listen(port) with no host (every interface), so a listen without a host gets
// 127.0.0.1; and a TCP connection to anything but loopback is refused (and said on stderr), so nothing
// it does can leave the machine, telemetry disabled or not.
"use strict";
const net = require("node:net");

const LOOPBACK_HOST = "127.0.0.1";
const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost", "::ffff:127.0.0.1"]);

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function listenOnLoopback(...args) {
  const [first, second] = args;
  if (typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first))) {
    if (typeof second !== "string") args.splice(1, 0, LOOPBACK_HOST);
  } else if (first && typeof first === "object" && first.path === undefined && !first.host) {
    args[0] = { ...first, host: LOOPBACK_HOST };
  }
  return listen.apply(this, args);
};

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function connectToLoopbackOnly(...args) {
  // Node calls this with (options, callback) once normalized, or (port, host, callback) directly.
  const [first, second] = args;
  const options = first && typeof first === "object" && !Array.isArray(first) ? first : null;
  const normalized = Array.isArray(first) ? first[0] : options;
  if (normalized && normalized.path !== undefined) return connect.apply(this, args);
  const host = normalized ? normalized.host : typeof second === "string" ? second : "localhost";
  if (host && !LOOPBACK.has(host)) {
    const error = new Error(`loopback-only: refused a connection to ${host}`);
    error.code = "ECONNREFUSED";
    process.stderr.write(`${error.message}\n`);
    process.nextTick(() => this.destroy(error));
    return this;
  }
  return connect.apply(this, args);
};
