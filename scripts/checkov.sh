#!/usr/bin/env bash
# Run checkov over terraform/ from its own pinned, isolated virtual environment.
#
# Checkov's dependency tree conflicts with the project's, so it lives in
# .venvs/checkov (repo root), created on first use and re-created when the
# pinned version changes. The scan is fully offline: nothing is fetched from
# Prisma Cloud / Bridgecrew and no API key is used.
#
# stdout carries only checkov's JSON report (tests/terraform parses it);
# everything else goes to stderr. Extra arguments are passed to checkov.
# CHECKOV_TARGET_DIR (default: terraform, relative to the repo root) changes
# the scanned directory; the tests use it to prove a bad snippet is caught.
#
# Exit status: checkov's own (non-zero when a check fails), or 2 when the
# environment cannot be created.
set -euo pipefail

readonly CHECKOV_VERSION="3.3.30"
readonly PYTHON_VERSION="3.11"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${repo_root}/.venvs/checkov"
checkov_bin="${venv}/bin/checkov"

log() { printf 'checkov.sh: %s\n' "$*" >&2; }

installed_version() {
  [[ -x "${venv}/bin/python" ]] || return 0
  "${venv}/bin/python" - <<'PY' 2>/dev/null || true
from importlib.metadata import version
print(version("checkov"))
PY
}

create_venv() {
  log "creating ${venv} with checkov==${CHECKOV_VERSION} (python ${PYTHON_VERSION})"
  rm -rf "${venv}"
  if command -v uv >/dev/null 2>&1; then
    uv venv --quiet "${venv}" --python "python${PYTHON_VERSION}" >&2
    uv pip install --quiet --python "${venv}" "checkov==${CHECKOV_VERSION}" >&2
  elif command -v "python${PYTHON_VERSION}" >/dev/null 2>&1; then
    log "uv not found; falling back to python${PYTHON_VERSION} -m venv + pip"
    "python${PYTHON_VERSION}" -m venv "${venv}" >&2
    "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check \
      "checkov==${CHECKOV_VERSION}" >&2
  else
    log "neither uv nor python${PYTHON_VERSION} is available; install uv (python3 -m pip install uv)"
    return 1
  fi
}

ensure_venv() {
  mkdir -p "${repo_root}/.venvs"
  # Serialise concurrent creators (parallel test runs) on one lock file.
  if command -v flock >/dev/null 2>&1; then
    exec 9>"${repo_root}/.venvs/.checkov.lock"
    flock 9
  fi
  if [[ "$(installed_version)" != "${CHECKOV_VERSION}" ]]; then
    create_venv
  fi
  if [[ "$(installed_version)" != "${CHECKOV_VERSION}" ]]; then
    log "checkov ${CHECKOV_VERSION} is not importable from ${venv}"
    return 1
  fi
}

if ! ensure_venv; then
  log "could not create the checkov environment"
  exit 2
fi

# Offline and anonymous: no platform API key (so nothing is uploaded), no
# policy/guideline download (--skip-download, BC_SKIP_MAPPING), no PyPI
# update check.
unset BC_API_KEY PRISMA_API_URL
export BC_SKIP_MAPPING=TRUE
export CKV_SKIP_PACKAGE_UPDATE_CHECK=TRUE

cd "${repo_root}"
exec "${checkov_bin}" \
  --directory "${CHECKOV_TARGET_DIR:-terraform}" \
  --framework terraform \
  --skip-download \
  --download-external-modules false \
  --compact \
  --output json \
  "$@"
