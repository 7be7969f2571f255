#!/usr/bin/env bash
# Builds every shipped plugin into plugins/dist/*.wasm:
#   Rust plugins  -> cargo build --target wasm32-wasip2 (one cargo run per plugin, so the
#                    SDK's world features are never unified across plugins)
#   Python plugin -> componentize-py (installed from PyPI if missing; builds offline)
# Usage: plugins/build.sh            (respects CARGO_TARGET_DIR)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dist="$root/plugins/dist"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
mkdir -p "$dist"

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
    echo "plugins/build.sh: adding the wasm32-wasip2 target" >&2
    rustup target add wasm32-wasip2
fi

# hostile-env and hostile-checker (tests/hostile/) misbehave on purpose, for the
# boundary tests in tests/tests/hostile.rs.
for plugin in uisim uisim-checker shellsim shellsim-checker osworld osworld-checker androidworld androidworld-checker resample-step hostile-env hostile-checker; do
    echo "plugins/build.sh: building $plugin (wasm32-wasip2)" >&2
    cargo build --quiet --release --target wasm32-wasip2 -p "$plugin" --manifest-path "$root/Cargo.toml"
    cp "$target_dir/wasm32-wasip2/release/${plugin//-/_}.wasm" "$dist/$plugin.wasm"
done

COMPONENTIZE_PY_VERSION=0.25.1
if ! command -v componentize-py >/dev/null 2>&1 \
    || [ "$(componentize-py --version 2>/dev/null | awk '{print $2}')" != "$COMPONENTIZE_PY_VERSION" ]; then
    echo "plugins/build.sh: installing componentize-py $COMPONENTIZE_PY_VERSION" >&2
    python3 -m pip install --quiet --disable-pip-version-check "componentize-py==$COMPONENTIZE_PY_VERSION"
fi
py_src="$root/plugins/resample-uniform-py/app.py"
py_out="$dist/uniform-py.wasm"
if [ ! -f "$py_out" ] || [ "$py_src" -nt "$py_out" ] || [ -n "$(find "$root/wit" -newer "$py_out" -print -quit)" ]; then
    echo "plugins/build.sh: building uniform-py (componentize-py)" >&2
    componentize-py -d "$root/wit/v0.1.0" -w resampler componentize \
        -p "$root/plugins/resample-uniform-py" app -o "$py_out.tmp"
    mv "$py_out.tmp" "$py_out"
fi
ls -l "$dist"/*.wasm >&2
