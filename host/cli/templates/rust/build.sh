#!/bin/sh
# Builds __NAME__.wasm (rustup target add wasm32-wasip2 once).
set -eu
cd "$(dirname "$0")"
cargo build --release --target wasm32-wasip2 "$@"
cp "${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release/__CRATE__.wasm" __NAME__.wasm
echo "built __NAME__.wasm; check it with: steprl plugin check __NAME__.wasm"
