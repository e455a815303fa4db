#!/usr/bin/env bash
# Run every test, the slow ones too (book build, headless-browser checks).
# From a fresh clone: creates .venv, and installs Debian's chromium when it is
# missing and we are root. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "$0")/setup_env.sh"   # also cds to the repository root

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
  else
    echo "error: the browser tests need /usr/bin/chromium (Debian: apt-get install" \
      "chromium); run as root to have this script install it." >&2
    exit 1
  fi
fi

exec .venv/bin/pytest "$@"
