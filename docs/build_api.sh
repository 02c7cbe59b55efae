#!/usr/bin/env bash
# The API reference: HTML from l2l's docstrings, written to docs/api/ (not committed: ~6 MB
# that would change with every docstring; build it when you want it).
#
#   pip install -e ".[docs]" && docs/build_api.sh && open docs/api/index.html
#   docs/build_api.sh --serve      # or browse it live at http://localhost:8080
#
# tests/test_docstrings.py fails when a public name has no docstring, so the reference has no
# empty entries.
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=3 MPLBACKEND=Agg
if [ "${1:-}" = "--serve" ]; then
  exec python -m pdoc --docformat google --port 8080 l2l
fi
rm -rf docs/api
python -m pdoc --docformat google --output-directory docs/api l2l
echo "Wrote docs/api/index.html"
