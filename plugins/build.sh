#!/usr/bin/env bash
# Builds every shipped plugin into plugins/dist/*.wasm:
#   Rust plugins  -> cargo build --target wasm32-wasip2 (one cargo run per plugin, so the
#                    SDK's world features are never unified across plugins)
#   Python plugins -> componentize-py (installed from PyPI if missing; builds offline)
#   JS test plugin -> componentize-js (installed from npm into ~/.cache when node/npm exist)
# Usage: plugins/build.sh            (respects CARGO_TARGET_DIR)
#        plugins/build.sh --install  (then copies the shipped plugins, not the test ones,
#                                     to ${XDG_DATA_HOME:-~/.local/share}/steprl/plugins,
#                                     where `steprl` finds them by name: `uisim`)
set -euo pipefail
install=0
case "${1:-}" in
    "") ;;
    --install) install=1 ;;
    *) echo "plugins/build.sh: unknown argument \`$1\` (valid: --install)" >&2; exit 2 ;;
esac
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
for plugin in uisim uisim-checker shellsim shellsim-checker osworld osworld-checker androidworld androidworld-checker resample-step resample-progress resample-curriculum hostile-env hostile-checker; do
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
# Whether OUT is missing or older than any of the given sources or the WIT package.
stale() {
    local out="$1"
    shift
    [ ! -f "$out" ] && return 0
    local src
    for src in "$@"; do
        [ "$src" -nt "$out" ] && return 0
    done
    [ -n "$(find "$root/wit" -newer "$out" -print -quit)" ]
}

# build_py NAME DIR [WORLD [MORE_DIRS...]]: DIR/app.py (and modules beside it, and in
# MORE_DIRS) as dist/NAME.wasm of WORLD (default resampler), with componentize-py.
build_py() {
    local name="$1" dir="$2" world="${3:-resampler}"
    shift 2
    [ $# -gt 0 ] && shift
    local out="$dist/$name.wasm" paths=(-p "$dir") sources=("$dir"/*.py)
    local more
    for more in "$@"; do
        paths+=(-p "$more")
        sources+=("$more"/*.py)
    done
    if stale "$out" "${sources[@]}"; then
        echo "plugins/build.sh: building $name (componentize-py)" >&2
        componentize-py -d "$root/wit/v0.1.0" -w "$world" componentize "${paths[@]}" app -o "$out.tmp"
        mv "$out.tmp" "$out"
    fi
}

build_py uniform-py "$root/plugins/resample-uniform-py"
build_py resample-dapo-py "$root/plugins/resample-dapo-py"
# The Python crafting suite and its checker (the checker reads world.py beside the
# suite; both use the Python guest helper of the plugin templates).
guest_py="$root/host/cli/templates/python"
build_py craft-py "$root/plugins/craft-py" environment "$guest_py"
build_py craft-py-checker "$root/plugins/craft-py-checker" reward-checker "$root/plugins/craft-py" "$guest_py"
# The hostile Python resampler of the boundary tests (tests/hostile/resampler-py).
build_py hostile-py "$root/tests/hostile/resampler-py"
# The hostile JavaScript checker (tests/hostile/checker-js), with componentize-js from
# npm (installed once into a cache outside the clone; node and npm must be present).
COMPONENTIZE_JS_VERSION=0.23.0
js_tools="${STEPRL_JS_TOOLS:-$HOME/.cache/steprl-componentize-js}"
# build_js NAME ENTRY WORLD: ENTRY (with the modules it imports from beside it) as
# dist/NAME.wasm of WORLD, with componentize-js (plugins/build-js.mjs).
build_js() {
    local name="$1" entry="$2" world="$3" out="$dist/$1.wasm"
    if stale "$out" "$(dirname "$entry")"/*.js "$root/plugins/build-js.mjs"; then
        local pkg="$js_tools/node_modules/@bytecodealliance/componentize-js/package.json"
        if [ ! -f "$pkg" ] || ! grep -q "\"version\": \"$COMPONENTIZE_JS_VERSION\"" "$pkg"; then
            echo "plugins/build.sh: installing componentize-js $COMPONENTIZE_JS_VERSION into $js_tools" >&2
            mkdir -p "$js_tools"
            npm install --silent --no-audit --no-fund --prefix "$js_tools" \
                "@bytecodealliance/componentize-js@$COMPONENTIZE_JS_VERSION"
        fi
        echo "plugins/build.sh: building $name (componentize-js)" >&2
        cp "$root/plugins/build-js.mjs" "$js_tools/build-js.mjs"
        node "$js_tools/build-js.mjs" "$entry" "$world" "$root/wit/v0.1.0" "$out.tmp"
        mv "$out.tmp" "$out"
    fi
}
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "plugins/build.sh: warning: node/npm not found, the JavaScript plugins (sheet-js, sheet-js-checker, hostile-js) are not built" >&2
else
    # The spreadsheet suite and its checker; the hostile checker of the boundary tests.
    build_js sheet-js "$root/plugins/sheet-js/env.js" environment
    build_js sheet-js-checker "$root/plugins/sheet-js/checker.js" reward-checker
    build_js hostile-js "$root/tests/hostile/checker-js/checker.js" reward-checker
fi
ls -l "$dist"/*.wasm >&2

if [ "$install" = 1 ]; then
    data="${XDG_DATA_HOME:-$HOME/.local/share}"
    dest="$data/steprl/plugins"
    mkdir -p "$dest"
    for plugin in uisim uisim-checker shellsim shellsim-checker osworld osworld-checker androidworld androidworld-checker resample-step resample-progress resample-curriculum resample-dapo-py uniform-py craft-py craft-py-checker sheet-js sheet-js-checker; do
        cp "$dist/$plugin.wasm" "$dest/$plugin.wasm.tmp"
        mv "$dest/$plugin.wasm.tmp" "$dest/$plugin.wasm"
    done
    echo "plugins/build.sh: installed the shipped plugins into $dest (steprl plugin list shows them)" >&2
fi
