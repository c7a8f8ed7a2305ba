#!/usr/bin/env bash
# Set up everything the project needs on a fresh machine, idempotently:
#   uv, the stream environment (.venv), the Airflow environment (.venvs/airflow),
#   Java + Maven for the local stack (PostgreSQL is installed by `daas stack up`),
#   and Chromium, in which the tests render the surveillance report (headless).
# Called by `make setup`; safe to run again at any time.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.8
PYTHON=${DAAS_PYTHON:-python3.11}
export UV_PYTHON_DOWNLOADS=never   # use the machine's Python 3.11, never fetch one

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "error: $PYTHON not found; the project needs CPython 3.11 (set DAAS_PYTHON to its path)" >&2
  exit 2
fi

if ! command -v uv >/dev/null 2>&1 || [ "$(uv --version | awk '{print $2}')" != "$UV_VERSION" ]; then
  say "installing uv $UV_VERSION"
  "$PYTHON" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
UV=$(command -v uv || echo "$("$PYTHON" -m site --user-base)/bin/uv")

need_apt=()
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: missing ${need_apt[*]}; install with: sudo apt-get install -y ${need_apt[*]}" >&2
    exit 2
  fi
  say "installing ${need_apt[*]}"
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need_apt[@]}"
fi

say "stream environment (.venv)"
"$UV" sync --frozen --quiet --python "$PYTHON" --extra stream --group dev

say "Airflow environment (.venvs/airflow)"
UV_PROJECT_ENVIRONMENT=.venvs/airflow "$UV" sync --frozen --quiet --python "$PYTHON" --extra airflow --group dev

# tests/deploy loads docker-compose.yaml with compose-go (Docker Compose's loader), a
# small Go program pinned by its go.sum; its modules come from the Go module proxy.
if command -v go >/dev/null 2>&1; then
  say "compose-go loader modules (tests/deploy/composecheck)"
  (cd tests/deploy/composecheck && go mod download)
else
  echo "warning: go not found; tests/deploy needs it to load docker-compose.yaml" >&2
fi
