#!/bin/sh
# Install configurable-http-proxy (npm), the proxy JupyterHub starts, for the JupyterHub
# test and deployment; never fail the build here. tests/test_jupyterhub.py skips with a
# clear reason when it is missing.
if command -v configurable-http-proxy >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "note: configurable-http-proxy not found and not root; the JupyterHub test will be skipped"
    echo "      (npm install -g configurable-http-proxy)"
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "note: npm not found; the JupyterHub test will be skipped (apt-get install nodejs npm)"
    exit 0
fi
echo "Installing configurable-http-proxy (npm) for the JupyterHub test..."
npm install --global --no-fund --no-audit --loglevel=error configurable-http-proxy@5 >/dev/null \
    || echo "note: could not install configurable-http-proxy; the JupyterHub test will be skipped"
exit 0
