#!/usr/bin/env bash
# Debian's Chromium for the Gradio browser tests (Playwright drives it; `playwright install`
# cannot download its own browser here and is never called). Installs only when missing.
set -euo pipefail
if [ -x /usr/lib/chromium/chromium ]; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "[setup] chromium missing and apt-get unavailable: browser tests will be skipped" >&2
  exit 0
fi
echo "[setup] installing chromium (apt) for the browser tests" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null
