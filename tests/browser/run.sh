#!/usr/bin/env bash
# The page in a real browser (test_browser.py): Debian's chromium, headless,
# driven by playwright-core from package-lock.json (npm ci; it downloads no
# browser). Traffic goes to 127.0.0.1 only.
#
#   tests/browser/run.sh [BINARY]     # default build/dev/src/cli/devops-info
#   BROWSER_SCREENSHOT=docs/page.png tests/browser/run.sh   # also keep the screenshot
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$(realpath "${1:-$root/build/dev/src/cli/devops-info}")

missing=()
command -v node >/dev/null || missing+=("node (Debian: nodejs)")
command -v npm >/dev/null || missing+=("npm")
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || missing+=("chromium (Debian: chromium)")
[ -x "$bin" ] || missing+=("the binary $bin (./build.sh test builds it)")
if [ ${#missing[@]} -gt 0 ]; then
  printf 'tests/browser: missing: %s\n' "${missing[@]}" >&2
  exit 1
fi
cd "$here"
npm ci --no-audit --no-fund --loglevel=error >&2
echo "chromium: $("${CHROMIUM:-/usr/bin/chromium}" --version 2>/dev/null)"
echo "playwright-core: $(node -p 'require("playwright-core/package.json").version')"
DEVOPS_INFO_BIN="$bin" /usr/bin/python3 -m unittest -v test_browser
