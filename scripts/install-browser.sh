#!/usr/bin/env bash
# Installs Debian's headless Chromium (/usr/bin/chromium) for the browser tests, unless it is
# there already. Tools that download their own browser do not work on these machines.
set -euo pipefail
if [[ -x /usr/bin/chromium ]]; then
    exit 0
fi
sudo=()
[[ "$(id -u)" == 0 ]] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends chromium chromium-driver fonts-dejavu-core
