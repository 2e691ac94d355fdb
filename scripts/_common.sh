# Shared by scripts/dev and scripts/test: find (or install) uv and sync the locked environment.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export UV_PYTHON_DOWNLOADS=never
if command -v uv >/dev/null 2>&1; then
  UV=(uv)
else
  if ! python3 -m uv --version >/dev/null 2>&1; then
    echo "==> installing uv with pip" >&2
    python3 -m pip install --quiet --user uv 2>/dev/null || python3 -m pip install --quiet uv
  fi
  UV=(python3 -m uv)
fi
"${UV[@]}" sync --frozen --quiet
