#!/bin/sh
# The JupyterHub test starts servers as other Unix users, who must be able to run the
# course's Python. When this checkout's interpreter is out of their reach (pyenv under
# /root), build .venv-class/: cnnlab with its hub extra in Debian's /usr/bin/python3,
# once per pyproject.toml. Never fail the build here: the test skips and says why.
cd "$(dirname "$0")/.." || exit 0
[ "$(id -u)" = "0" ] || exit 0
command -v runuser >/dev/null 2>&1 || exit 0
if runuser -u nobody -- "${1:-.venv/bin/python}" -c "" 2>/dev/null; then
    exit 0  # other users can run this environment's Python: the test uses it
fi
[ -x /usr/bin/python3 ] || { echo "note: no /usr/bin/python3; the JupyterHub test will be skipped"; exit 0; }
wanted=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat .venv-class/.cnnlab-installed 2>/dev/null)" = "$wanted" ]; then
    exit 0
fi
echo "Building .venv-class/ (cnnlab for the JupyterHub test's users, with /usr/bin/python3)..."
rm -rf .venv-class
if /usr/bin/python3 -m venv .venv-class \
        && .venv-class/bin/pip install --quiet -e '.[hub]' >/dev/null; then
    printf '%s' "$wanted" > .venv-class/.cnnlab-installed
else
    echo "note: could not build .venv-class; the JupyterHub test will be skipped"
fi
exit 0
