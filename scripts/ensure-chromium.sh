#!/bin/sh
# Install Debian's chromium for the browser test when we can; never fail the build here.
# The browser test itself skips with a clear reason when no chromium is found.
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's chromium for the browser test..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
        || echo "note: could not install chromium; the browser test will be skipped"
else
    echo "note: chromium not found and not root; the browser test will be skipped"
fi
exit 0
