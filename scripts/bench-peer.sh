#!/usr/bin/env bash
# The benchmark peers' environment: .venvs/bench-peer with Quix Streams 3.28.1, apart from
# the project's (their pins conflict), from the compiled benchmarks/peer/requirements.txt.
# Called by `make bench`; does nothing when the environment already matches the file.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${DAAS_PYTHON:-python3.11}
export UV_PYTHON_DOWNLOADS=never
UV=$(command -v uv || echo "$("$PYTHON" -m site --user-base)/bin/uv")
VENV=.venvs/bench-peer
REQUIREMENTS=benchmarks/peer/requirements.txt
STAMP=$VENV/.requirements.sha256

wanted=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$wanted" ]; then
  exit 0
fi
printf '\033[1m==> %s\033[0m\n' "benchmark peer environment ($VENV: Quix Streams)"
"$UV" venv --quiet --allow-existing --python "$PYTHON" "$VENV"
"$UV" pip sync --quiet --python "$VENV/bin/python" "$REQUIREMENTS"
echo "$wanted" > "$STAMP"
