#!/usr/bin/env bash
# The browser the console's tests drive: Debian's chromium (headless, no download by Playwright)
# and a font with Chinese glyphs, installed when missing. Prints `export CONSOLE_TEST_CHROMIUM=...`.
#
#   eval "$(scripts/browser.sh)"
#
# CONSOLE_TEST_CHROMIUM already set: used as is, nothing is installed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib/common.sh
source "$ROOT/scripts/lib/common.sh"

if [[ -n "${CONSOLE_TEST_CHROMIUM:-}" ]]; then
  echo "export CONSOLE_TEST_CHROMIUM=$CONSOLE_TEST_CHROMIUM"
  exit 0
fi
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fonts=$(fc-list : family 2>/dev/null || true)
[[ "${fonts,,}" == *wenquanyi* || "${fonts,,}" == *"noto sans cjk"* ]] || missing+=(fonts-wqy-microhei)
if (( ${#missing[@]} )); then
  apt_install "${missing[@]}" || die "could not install ${missing[*]}: install them, or set CONSOLE_TEST_CHROMIUM"
fi
echo "export CONSOLE_TEST_CHROMIUM=$(command -v chromium)"
