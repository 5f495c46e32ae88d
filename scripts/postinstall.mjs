// Runs after `npm ci` / `npm install` at the repository root. The oneDNN kernels of @convlab/native
// are built by that package's own `install` script (packages/native/scripts/build.mjs: it always
// exits 0, so a machine without oneDNN or a compiler still installs). npm hides a workspace's install
// output, so this prints the one line that script recorded: what was built, or why not.
import { existsSync, readFileSync } from 'node:fs';

const status = 'packages/native/build-status.txt';
if (existsSync(status)) process.stdout.write(readFileSync(status, 'utf8'));
else if (existsSync('packages/native/package.json')) console.log('convlab native: the install script did not run (npm --ignore-scripts?); run `npm run build:addon -w @convlab/native` for the fast backend');
