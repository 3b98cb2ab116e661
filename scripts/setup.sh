#!/usr/bin/env bash
# Sets up a Debian machine for MetaAnchor Lab: the system packages the notebook stack needs, then the
# npm dependencies. Safe to run again: apt is skipped when every package is already installed.
#
#   bash scripts/setup.sh            # system packages + npm ci
#   bash scripts/setup.sh --no-npm   # system packages only
#   bash scripts/setup.sh --chromium # also Debian chromium (scripts/check-html.js and the browser tests)
#
# Works as root (no sudo needed) and as a normal user with sudo.
set -euo pipefail

cd "$(dirname "$0")/.."

# Why each package (docs/DESIGN.md section 5):
#   jupyter-notebook jupyter-nbconvert jupyter-client  Jupyter Notebook 6 server, HTML export, kernel specs
#   python3-nbclient python3-nbformat                  the headless runner (scripts/run_notebooks.py) and signing
#   fonts-dejavu-core                                   a system font, so that sharp renders SVG text
#   libegl1 libegl-mesa0 libgl1-mesa-dri                the webgpu backend's software adapter for tests
#                                                       (Dawn's OpenGL backend on Mesa llvmpipe through
#                                                       surfaceless EGL; README "GPU"). A real GPU needs
#                                                       its driver's Vulkan ICD instead.
#   redis-server                                        the run queue's store (README "Many machines"); its tests start one
#   iproute2                                            `ip netns`: the queue test that puts workers in network namespaces
PACKAGES=(jupyter-notebook jupyter-nbconvert jupyter-client python3-nbclient python3-nbformat fonts-dejavu-core
  libegl1 libegl-mesa0 libgl1-mesa-dri redis-server iproute2)

RUN_NPM=1
for arg in "$@"; do
  case "$arg" in
    --no-npm) RUN_NPM=0 ;;
    --chromium) PACKAGES+=(chromium) ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "setup: unknown option '$arg' (use --no-npm, --chromium)" >&2; exit 2 ;;
  esac
done

missing=()
for pkg in "${PACKAGES[@]}"; do
  # "install ok installed" is dpkg's status for a fully installed package.
  if [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" != "install ok installed" ]; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup: system packages already installed (${PACKAGES[*]})"
else
  if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
  elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "setup: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  "${SUDO[@]}" apt-get update
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

# Debian's Python, not whichever python3 is first on PATH (pyenv, conda): that is where apt put nbclient.
/usr/bin/python3 -c 'import nbclient, nbformat, nbconvert, jupyter_client' \
  || { echo "setup: /usr/bin/python3 cannot import nbclient/nbformat/nbconvert/jupyter_client" >&2; exit 1; }

if [ "$RUN_NPM" -eq 1 ]; then
  npm ci --no-audit --no-fund
fi

echo "setup: done. Serve notebooks with 'npm run notebook'; run them headlessly with 'npm run notebooks'."
