#!/usr/bin/env bash
# The README's first command, as a stranger's machine meets it: a fresh clone of HEAD, a fresh npm
# cache, and (as root, inside a private mount namespace) Debian's oneDNN headers and library hidden,
# so the native addon cannot build and `npm start` must run on the wasm fallback.
#   bash scripts/fresh-clone-check.sh [repo]     (repo defaults to this checkout; HEAD is cloned)
# Checks: npm ci succeeds, the addon says in one line why it was not built, `npm start -- --quick`
# writes out/demo/index.html, every demo section succeeded, and the backend was wasm.
set -euo pipefail
repo="$(cd "${1:-$(dirname "$0")/..}" && pwd)"

if [ "${CONVLAB_IN_NAMESPACE:-}" != 1 ]; then
  if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
    exec env CONVLAB_IN_NAMESPACE=1 unshare -m --propagation private bash "$0" "$repo"
  fi
  echo "fresh-clone-check: not root (or no unshare): oneDNN stays visible; checking install and quick start only" >&2
fi

if [ "${CONVLAB_IN_NAMESPACE:-}" = 1 ]; then
  # Hide oneDNN: an empty tmpfs over its headers, an empty file over each library file.
  for d in /usr/include/oneapi /usr/local/include/oneapi; do [ -d "$d" ] && mount -t tmpfs none "$d"; done
  empty="$(mktemp)"
  for f in /usr/lib/*/libdnnl.so* /usr/lib/libdnnl.so* /usr/local/lib/libdnnl.so*; do
    [ -e "$f" ] && mount --bind "$empty" "$(readlink -f "$f")" 2>/dev/null || true
  done
  echo "fresh-clone-check: oneDNN hidden (headers: $(ls /usr/include/oneapi 2>/dev/null | wc -l) entries)" >&2
fi

work="$(mktemp -d /tmp/convlab-fresh.XXXXXX)"
trap 'rm -rf "$work"' EXIT
git clone -q "$repo" "$work/convlab"
cd "$work/convlab"
# The README's first command, with the quick flag the README documents.
first="$(awk '/^```sh$/{f=1;next} f&&NF{print;exit}' README.md | sed 's/[[:space:]]*#.*$//')"
[ "$first" = "npm ci && npm start" ] || { echo "fresh-clone-check: README's first command is now \"$first\"; update this script" >&2; exit 1; }
export npm_config_cache="$work/npm-cache" NX_DAEMON=false
start=$(date +%s)
npm ci --no-audit --no-fund > "$work/install.log" 2>&1 || { tail -40 "$work/install.log"; echo "fresh-clone-check: npm ci failed" >&2; exit 1; }
grep '^convlab native:' "$work/install.log" || { echo "fresh-clone-check: the install did not say whether the native addon was built" >&2; exit 1; }
env -u CONVLAB_BACKEND -u CONVLAB_REQUIRE_NATIVE npm start -- --quick 2>&1 | tee "$work/start.log" | grep -E '^(convlab: backend|demo page)' || true
node -e '
const fs = require("fs");
const d = JSON.parse(fs.readFileSync("out/demo/demo.json", "utf8"));
const bad = d.sections.filter((s) => !s.ok);
if (!fs.existsSync("out/demo/index.html")) throw new Error("no out/demo/index.html");
if (bad.length) throw new Error("sections failed: " + JSON.stringify(bad));
const want = process.env.CONVLAB_IN_NAMESPACE === "1" ? "wasm" : d.backend;
if (d.backend !== want) throw new Error(`backend ${d.backend}, expected ${want} with oneDNN hidden`);
console.log(`fresh-clone-check: ok: npm ci + npm start -- --quick on backend ${d.backend}, sections ${d.sections.map((s) => s.id).join(", ")}`);
'
echo "fresh-clone-check: took $(( $(date +%s) - start )) s" >&2
