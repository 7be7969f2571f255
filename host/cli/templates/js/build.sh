#!/bin/sh
# Builds __NAME__.wasm with componentize-js (needs node and npm). The first build
# installs componentize-js into ./node_modules; set STEPRL_JS_TOOLS to a directory that
# already has it (e.g. ~/.cache/steprl-componentize-js) to reuse that install.
set -eu
cd "$(dirname "$0")"
here="$(pwd)"
if [ -n "${STEPRL_JS_TOOLS:-}" ] && [ -d "$STEPRL_JS_TOOLS/node_modules/@bytecodealliance/componentize-js" ]; then
    cp build.mjs "$STEPRL_JS_TOOLS/build-__NAME__.mjs"
    STEPRL_TEMPLATE_DIR="$here" node "$STEPRL_JS_TOOLS/build-__NAME__.mjs"
else
    [ -d node_modules/@bytecodealliance/componentize-js ] \
        || npm install --silent --no-audit --no-fund @bytecodealliance/componentize-js@0.23.0
    node build.mjs
fi
