#!/usr/bin/env bash
# Fill device_carry/ (git-ignored) with what the offline GPU machine (python3 3.12, torch 2.11, no
# pip index) lacks for `pytest --nbval --nbval-current-env book` and `pytest tests`:
#   device_carry/vgg16_conv4_3.pt  the VGG16 conv weights (read there via RANKATT_VGG16_WEIGHTS)
#   device_carry/wheels/*.whl      the Jupyter kernel / nbval / ipywidgets stack, one version each
#   device_carry/synthetic.sha256  checksums of data/synthetic (regenerated there, compared)
# Run from the repo root here; then on the GPU machine: `source tools/gpu/install_carry.sh`.
# Not carried: opencv-contrib-python-headless (64+ MiB), so the CSRT/KCF/MOSSE baselines fail there.
set -euo pipefail

PY=.venv/bin/python
CARRY=device_carry
WHEELS=$CARRY/wheels
LIMIT_MIB=44
# Closure of nbval, ipykernel, ipywidgets, nbclient (Requires-Dist, Python 3.12 on Linux) minus
# what KINDS.md lists on the GPU machine (attrs, coverage, packaging, psutil, pygments, pytest,
# python-dateutil, pyyaml, typing-extensions...). Versions come from requirements-lock.txt.
PKGS=(asttokens comm debugpy executing fastjsonschema ipykernel ipython ipython_pygments_lexers
      ipywidgets jedi jsonschema jsonschema-specifications jupyter_client jupyter_core
      matplotlib-inline nbclient nbformat nbval nest-asyncio2 parso pexpect
      platformdirs prompt_toolkit ptyprocess pure_eval pyzmq referencing rpds-py stack-data
      tornado traitlets wcwidth)
# Left out on purpose (ipywidgets' Requires-Dist, but only the notebook/lab front-end assets: no
# Python imports them; the kernel's widgets work without them): 2.4 MB that the budget lacks.
OMIT=(widgetsnbextension jupyterlab_widgets)
# Target: CPython 3.12 on x86-64 Linux (the README's platform list, plus 2_34 for debugpy).
TARGET=(--only-binary=:all: --python-version 3.12 --implementation cp
        --platform manylinux_2_34_x86_64 --platform manylinux_2_28_x86_64
        --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
        --platform manylinux2014_x86_64 --platform manylinux1_x86_64)

# pip sees PyPI and our folders only (not this machine's pip.conf, find-links or constraints)
export PIP_CONFIG_FILE=/dev/null
unset PIP_FIND_LINKS PIP_CONSTRAINT
[[ -x $PY && -f requirements-lock.txt ]] || { echo "run from the repo root after make setup" >&2; exit 1; }

# (a) the backbone weights (conv1_1..conv4_3, convention recorded), ~30 MB
mkdir -p "$CARRY"
"$PY" -m rankatt_lib.features export "$CARRY/vgg16_conv4_3.pt"

# (b) the wheels, pinned to the lock (start from an empty folder: one version each)
pins=()
for p in "${PKGS[@]}"; do
  pin=$(grep -iE "^${p//[-_.]/[-_.]}==" requirements-lock.txt) || { echo "$p: not in the lock" >&2; exit 1; }
  pins+=("$pin")
done
rm -rf "$WHEELS"
"$PY" -m pip download -q --disable-pip-version-check --no-deps "${TARGET[@]}" -d "$WHEELS" "${pins[@]}"

# (c) completeness: resolve the roots offline from the carried wheels, plus stand-in wheels (no
# dependencies, lock's version) for every package KINDS.md lists on the GPU machine and for OMIT.
# A package neither carried nor there makes pip fail: "No matching distribution found for NAME".
stubs=$(mktemp -d)
trap 'rm -rf "$stubs"' EXIT
KINDS=${KINDS_MD:-/work/.library/device/KINDS.md}
"$PY" - "$KINDS" "$stubs" "${OMIT[@]}" <<'EOF'
import sys, zipfile
from importlib.metadata import version, PackageNotFoundError
text = open(sys.argv[1]).read().split("## Python packages already there")[1]
for name in [n.strip(" .") for n in text.split("Packages:")[1].split("\n")[0].split(",")] + sys.argv[3:]:
    try: v = version(name)
    except PackageNotFoundError: continue   # not in our lock: nothing here can require it
    d = f"{name.replace('-', '_')}-{v}"
    with zipfile.ZipFile(f"{sys.argv[2]}/{d}-py3-none-any.whl", "w") as z:
        z.writestr(f"{d}.dist-info/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {v}\n")
        z.writestr(f"{d}.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{d}.dist-info/RECORD", "")
EOF
"$PY" -m pip install -q --disable-pip-version-check --dry-run --ignore-installed --no-index \
  --find-links "$WHEELS" --find-links "$stubs" "${TARGET[@]}" --target "$stubs/t" \
  --report "$stubs/report.json" nbval ipykernel ipywidgets nbclient matplotlib-inline
"$PY" - "$stubs/report.json" "$stubs" "${OMIT[@]}" <<'EOF'
import json, sys
items = json.load(open(sys.argv[1]))["install"]
stub = sorted(i["metadata"]["name"] for i in items if sys.argv[2] in i["download_info"]["url"])
print(f"dry run OK: {len(items)} distributions, {len(items) - len(stub)} carried; left out:",
      *[n for n in stub if n in sys.argv[3:]], "| the GPU machine's own:",
      *[n for n in stub if n not in sys.argv[3:]])
EOF

# (d) the synthetic benchmark's checksums: the device generates the data itself (131 MB would not
# travel) and its data step compares them, so that CPU/GPU parity is read on identical frames
if [[ -d data/synthetic/test && -d data/synthetic/train ]]; then
  find data/synthetic -type f ! -name '*.lock' -print0 | sort -z | xargs -0 sha256sum >"$CARRY/synthetic.sha256"
  echo "synthetic.sha256: $(wc -l <"$CARRY/synthetic.sha256") files"
else
  echo "no data/synthetic/{train,test} here: make data first for the checksums (the device step skips the check)" >&2
fi

# size: device_carry/ <= 44 MiB, so that it and the tracked files (~17 MB) stay under 64 MiB
stat -c '%9s  %n' "$WHEELS"/*.whl
carry=$(du -sb "$CARRY" | cut -f1)
tree=$(git ls-files -z --cached --others --exclude-standard | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
echo "device_carry/: $((carry / 1024)) KiB; with the working tree: $(((carry + tree) / 1048576)) MiB of 64"
((carry <= LIMIT_MIB * 1048576)) || { echo "device_carry/ is over $LIMIT_MIB MiB" >&2; exit 1; }
