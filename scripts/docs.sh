#!/usr/bin/env bash
# Build the user guide into site/ and check its links:
#   bash scripts/docs.sh
# Installs MkDocs (the "docs" extra) into $VENV when missing, regenerates the CLI
# reference (docs/cli.md) from the argument parser, checks the README's links, then
# `mkdocs build --strict` (fails on any link to a missing page or heading).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-$PWD/.venv}
PY=${PYTHON:-python3}

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
if ! "$VENV/bin/python" -c "import mkdocs, material, cwl_runner" 2>/dev/null; then
  "$VENV/bin/python" -m pip install -q -e ".[docs]" 2>&1 | grep -v '^WARNING' || true
fi
"$VENV/bin/python" scripts/cli_reference.py docs/cli.md
"$VENV/bin/python" scripts/check_links.py README.md docs
# not --quiet: it hides the warnings that --strict counts, and so lets broken links through
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! NO_MKDOCS_2_WARNING=1 "$VENV/bin/python" -m mkdocs build --strict >"$log" 2>&1; then
  grep -v '^INFO' "$log" >&2
  exit 1
fi
echo "docs: site/index.html" >&2
