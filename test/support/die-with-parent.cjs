// Preloaded (node --require) into every service the distributed e2e suite starts. The test
// process holds the other end of this service's stdin; when that process goes away for any
// reason, even SIGKILL, the pipe closes and the service shuts down instead of outliving it.
'use strict';

let done = false;
function parentGone() {
  if (done) return;
  done = true;
  process.kill(process.pid, 'SIGTERM');
  setTimeout(() => process.exit(1), 15_000).unref();
}

process.stdin.on('end', parentGone);
process.stdin.on('close', parentGone);
process.stdin.on('error', parentGone);
process.stdin.resume();
// Watching stdin must never be what keeps a service alive.
process.stdin.unref?.();
