// Runs after `npm ci` / `npm install` at the repository root. Builds the optional pieces that need a
// compiler (the oneDNN kernels of @convlab/native); a failure only means a slower backend, never a
// failed install.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const script = 'packages/native/scripts/build.mjs';
if (existsSync(script)) {
  const r = spawnSync(process.execPath, [script], { stdio: 'inherit' });
  if (r.status !== 0) console.warn('convlab: native kernels were not built; the engine will fall back to wasm (see the line above).');
}
