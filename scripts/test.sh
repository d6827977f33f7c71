#!/usr/bin/env bash
# Install everything the tests need and run them: pytest, then the conformance
# ratchet (every suite's pass count must stay at or above conformance/baseline.json).
#   bash scripts/test.sh              # all of it
#   SKIP_CONFORMANCE=1 bash scripts/test.sh
#   CONFORMANCE_ARGS="--suite v1.2" bash scripts/test.sh
#   SKIP_SLURM=1 bash scripts/test.sh   # no conformance run through the one-node Slurm cluster
#   SKIP_S3=1 bash scripts/test.sh      # no conformance run with S3 job stores
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3}
VENV=${VENV:-$ROOT/.venv}

step() { printf '\n== %s\n' "$*" >&2; }

step "Python environment ($VENV)"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING' || true
"$VENV/bin/python" -m pip install -q -e ".[test,docs]" 2>&1 | grep -v '^WARNING' || true
# runcrate (CWLProv -> Workflow Run RO-Crate, for tests/test_provenance.py) pins an older
# cwl-utils than cwltool needs; its other dependencies come with the test extras
"$VENV/bin/python" -m pip install -q --no-deps "runcrate==0.6.2" 2>&1 | grep -v '^WARNING' || true
"$VENV/bin/python" -c "import cwl_runner, cwltest" # fails loudly if the install did
# bytecode, as a wheel install has it (an editable one under PYTHONDONTWRITEBYTECODE has none)
"$VENV/bin/python" -m compileall -q cwl_runner >/dev/null
export PATH="$VENV/bin:$PATH"

step "Node.js (cwltool's JavaScript engine)"
if ! command -v node >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null
  else
    echo "warning: no node on PATH; JavaScript expressions will use a container" >&2
  fi
fi

step "Chromium and tmux (the report and live-display tests)"
if ! command -v chromium >/dev/null 2>&1 || ! command -v tmux >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium tmux >/dev/null
  else
    echo "warning: no chromium or tmux; the report/terminal tests will be skipped" >&2
  fi
fi

step "s3rver (an S3 server that checks credentials, for the S3 tests)"
if [ ! -x .s3rver/node_modules/.bin/s3rver ] && command -v npm >/dev/null 2>&1; then
  npm install --silent --no-audit --no-fund --prefix .s3rver s3rver@3 >/dev/null 2>&1 \
    || echo "warning: npm could not install s3rver; its tests will be skipped" >&2
fi

step "Container engine"
SETUP="$ROOT/../shared/containers/setup.sh"
if [ -n "${DOCKER_HOST:-}" ] && docker version >/dev/null 2>&1; then
  echo "using the engine at $DOCKER_HOST" >&2
elif [ -f "$SETUP" ] && [ "$(id -u)" = 0 ]; then
  bash "$SETUP" >&2
  # shellcheck disable=SC1091
  . "${RUNNER_DOCKER_DIR:-/tmp/runner-docker}/env"
elif docker version >/dev/null 2>&1; then
  echo "using the default Docker engine" >&2
else
  echo "warning: no container engine: container tests will be skipped and the conformance ratchet will fail" >&2
fi

step "Lint"
"$VENV/bin/ruff" check cwl_runner tests conformance benchmarks
"$VENV/bin/mypy" cwl_runner

step "Docs (user guide: build with mkdocs --strict, check links)"
VENV="$VENV" bash scripts/docs.sh

step "pytest"
"$VENV/bin/python" -m pytest -q -p no:cacheprovider

if [ -z "${SKIP_CONFORMANCE:-}" ]; then
  step "Conformance ratchet"
  # shellcheck disable=SC2086
  "$VENV/bin/python" conformance/run.py --check-baseline ${CONFORMANCE_ARGS:-}

  step "Conformance ratchet with the fast path checked against cwltool (v1.2)"
  # every job of a planned tool is also built by cwltool; any difference fails the test
  RUNNER_CWL_FASTPATH=check "$VENV/bin/python" conformance/run.py --suite v1.2 --label fastpath-check --check-baseline

  if [ -z "${SKIP_S3:-}" ]; then
    step "Conformance ratchet with S3 job stores on a local S3 server (v1.2 required tests)"
    "$VENV/bin/python" conformance/run.py --suite v1.2 --tags required --s3 --check-baseline
  fi

  if [ -z "${SKIP_SLURM:-}" ]; then
    step "Conformance ratchet through Slurm (v1.2 required tests)"
    export RUNNER_SLURM_DIR=${RUNNER_SLURM_DIR:-$(mktemp -d /tmp/runner-slurm-test.XXXXXX)}
    export RUNNER_SLURM_PORT=${RUNNER_SLURM_PORT:-6857}
    bash scripts/slurm-cluster.sh start >&2
    # shellcheck disable=SC1091
    . "$RUNNER_SLURM_DIR/env"
    trap 'bash scripts/slurm-cluster.sh stop --purge >&2' EXIT
    "$VENV/bin/python" conformance/run.py --suite v1.2 --tags required --label slurm \
      --runner-arg=--batch-system=slurm --check-baseline
  fi
fi
