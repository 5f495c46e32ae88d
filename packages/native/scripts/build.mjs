#!/usr/bin/env node
// Builds @convlab/native's oneDNN addon with node-gyp. Prints one line saying what happened and
// always exits 0: without the addon convlab still works on the wasm or cpu backend, only slower.
// It is this package's own `install` script: an explicit install script keeps npm from running its
// implicit `node-gyp rebuild` (whose failure would fail the whole `npm ci` on machines without
// oneDNN or a compiler). npm hides a workspace's install output, so the line is also written to
// build-status.txt, which the root postinstall prints. `npm run build:addon -w @convlab/native`
// runs it by hand.
import { existsSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (msg) => {
  const line = `convlab native: ${msg}`;
  console.log(line);
  try {
    writeFileSync(join(pkgDir, 'build-status.txt'), line + '\n');
  } catch {
    // read-only checkout: the line on stdout is all we can do
  }
};

function nodeGyp() {
  const local = join(pkgDir, '../../node_modules/node-gyp/bin/node-gyp.js');
  if (existsSync(local)) return local;
  try {
    return createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    // npm ships its own node-gyp.
    const bundled = join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
    return existsSync(bundled) ? bundled : undefined;
  }
}

function lastError(output) {
  const lines = output.split('\n').map((l) => l.trim()).filter(Boolean);
  const err = lines.find((l) => /error:|fatal error|cannot find -l|not found/i.test(l) && !/^gyp (info|http)/.test(l));
  return (err ?? lines.filter((l) => !/^gyp (info|http)/.test(l)).slice(-1)[0] ?? 'unknown error').slice(0, 200);
}

function main() {
  if (process.env.CONVLAB_SKIP_NATIVE_BUILD === '1') return say('skipped (CONVLAB_SKIP_NATIVE_BUILD=1); backends: wasm, cpu');
  if (!existsSync('/usr/include/oneapi/dnnl/dnnl.hpp') && !existsSync('/usr/local/include/oneapi/dnnl/dnnl.hpp')) {
    return say('libdnnl-dev not found (Debian/Ubuntu: apt-get install libdnnl-dev); using the wasm backend instead');
  }
  const gyp = nodeGyp();
  if (!gyp) return say('node-gyp not found; using the wasm backend instead');
  const args = [gyp, 'rebuild', '-j', 'max'];
  // Use the headers installed with this node (Debian: /usr/include/node; official tarballs:
  // <prefix>/include/node) rather than let node-gyp download them (offline machines).
  const prefixes = [join(dirname(process.execPath), '..'), '/usr', '/usr/local'];
  const nodedir = prefixes.find((p) => existsSync(join(p, 'include/node/node_api.h')));
  if (nodedir && !process.env.npm_config_nodedir) args.push(`--nodedir=${nodedir}`);
  const r = spawnSync(process.execPath, args, { cwd: pkgDir, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    return say(`build failed (${lastError(`${r.stdout}\n${r.stderr}`)}); using the wasm backend instead`);
  }
  // Load it once in a child process so a broken library fails here, not in the first run.
  const probe = spawnSync(process.execPath, ['-e', `const a = require(${JSON.stringify(join(pkgDir, 'build/Release/convlab_native.node'))}); const i = a.info(); console.log('oneDNN ' + i.version + ', ' + i.threads + ' threads')`], { encoding: 'utf8' });
  if (probe.status !== 0) return say(`built but does not load (${lastError(probe.stderr)}); using the wasm backend instead`);
  say(`built the oneDNN kernels (${probe.stdout.trim()})`);
}

try {
  main();
} catch (err) {
  say(`build skipped (${err instanceof Error ? err.message : String(err)})`);
}
process.exit(0);
