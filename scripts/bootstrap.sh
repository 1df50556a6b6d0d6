#!/bin/sh
# Makes a fresh clone ready to run: redis-server on PATH, node_modules installed, the CLI built.
# Used by `npm start` and `npm test`; safe to run again (it only does what is missing).
set -e
cd "$(dirname "$0")/.."

# Installs Debian packages as root or through passwordless sudo; returns 1 when it cannot.
install_packages() {
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null && command -v apt-get >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    return 1
  fi
}

if ! command -v redis-server >/dev/null 2>&1; then
  echo "bootstrap: installing redis-server..."
  if ! install_packages redis-server; then
    echo "bootstrap: redis-server is not installed and I cannot install it here." >&2
    echo "  Debian/Ubuntu: sudo apt-get install -y redis-server    macOS: brew install redis" >&2
    echo "  Then run the same command again." >&2
    exit 1
  fi
fi

# PostgreSQL server binaries, for the tests only (they start private PostgreSQL servers; the server
# itself uses PGlite or DATABASE_URL): without them the PostgreSQL tests are skipped, not failed.
if [ "${npm_lifecycle_event:-}" != "start" ] && ! command -v initdb >/dev/null 2>&1 &&
  ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "bootstrap: installing postgresql, for the persistence tests..."
  if ! install_packages postgresql; then
    echo "bootstrap: PostgreSQL (initdb, pg_ctl) is not installed and I cannot install it here:" >&2
    echo "  the PostgreSQL persistence tests will be skipped. To run them:" >&2
    echo "  Debian/Ubuntu: sudo apt-get install -y postgresql    macOS: brew install postgresql" >&2
  fi
fi

# Debian's chromium and firefox-esr, for the dashboard's end-to-end test only (test/e2e/dashboard.test.ts).
install_browser() { # <package> <binary> <value of its path variable> <path variable name>
  if [ "${npm_lifecycle_event:-}" != "start" ] && [ -z "$3" ] && [ ! -x "$2" ]; then
    echo "bootstrap: installing $1, for the dashboard's browser test..."
    if ! install_packages "$1"; then
      echo "bootstrap: $1 is not installed and I cannot install it here: the dashboard's" >&2
      echo "  browser test will fail. Debian/Ubuntu: sudo apt-get install -y $1, or point" >&2
      echo "  ${4} at the browser's binary." >&2
    fi
  fi
}
install_browser chromium /usr/bin/chromium "${CHROMIUM_PATH:-}" CHROMIUM_PATH
install_browser firefox-esr /usr/bin/firefox-esr "${FIREFOX_PATH:-}" FIREFOX_PATH

if [ ! -d node_modules ]; then
  echo "bootstrap: installing dependencies (npm ci)..."
  npm ci --no-audit --no-fund
elif [ ! -f dist/cli/main.js ] || [ -n "$(find src -newer dist/cli/main.js \( -name '*.ts' -o -name '*.lua' \) -print -quit)" ]; then
  echo "bootstrap: building (tsc)..."
  npm run --silent build
fi
