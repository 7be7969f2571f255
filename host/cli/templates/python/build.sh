#!/bin/sh
# Builds __NAME__.wasm with componentize-py (pip install componentize-py==0.25.1).
set -eu
cd "$(dirname "$0")"
componentize-py -d wit -w __WORLD__ componentize app -o __NAME__.wasm
echo "built __NAME__.wasm; check it with: steprl plugin check __NAME__.wasm"
