#!/bin/sh
# Installs the pinned noVNC (package.json + package-lock.json) into display/web/node_modules for the Maven build,
# which copies it into the display jar. Runs `npm ci` only when node_modules is missing or older than the lock file.
# noVNC is never fetched at run time.
set -eu
cd "$(dirname "$0")"
if ! command -v npm >/dev/null 2>&1; then
    echo "jvhost display: npm is missing: the web console packs noVNC (@novnc/novnc, pinned in display/web/package-lock.json) at build time." >&2
    echo "Install Node.js and npm (Debian: apt-get install nodejs npm), then build again." >&2
    exit 1
fi
stamp=node_modules/.package-lock.json
if [ -f node_modules/@novnc/novnc/core/rfb.js ] && [ -f "$stamp" ] && [ "$stamp" -nt package-lock.json ]; then
    exit 0
fi
echo "jvhost display: npm ci (noVNC, as pinned in display/web/package-lock.json)" >&2
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error || {
    echo "jvhost display: 'npm ci' failed in $(pwd): check that the npm registry is reachable (or that ~/.npm has the package)" >&2
    exit 1
}
[ -f node_modules/@novnc/novnc/core/rfb.js ] || {
    echo "jvhost display: npm ci did not install @novnc/novnc/core/rfb.js" >&2
    exit 1
}
