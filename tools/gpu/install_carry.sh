# shellcheck shell=bash
# On the offline GPU machine, from the repo root: `source tools/gpu/install_carry.sh`
# Installs device_carry/wheels (made here by tools/gpu/prepare_carry.sh) into /tmp/site with the
# device README's command and sets this shell's environment; nothing is registered globally.
# No kernelspec is needed: `pytest --nbval --nbval-current-env` (nbval/kernel.py) and nbclient's
# "python3" (jupyter_client's native kernel) both start `sys.executable -m ipykernel_launcher`
# through ipykernel.kernelspec.get_kernel_dict(); the kernel inherits PYTHONPATH.
# Then, e.g.:  python3 -m pytest -m "not browser" tests
#              python3 -m pytest --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg book

_carry_fail() { echo "install_carry: $*" >&2; return 1; }
_carry_main() {
  [[ -f pyproject.toml && -d rankatt_lib ]] || { _carry_fail "source me from the repo root"; return; }
  local whl=(device_carry/wheels/*.whl)
  [[ -f ${whl[0]} && -f device_carry/vgg16_conv4_3.pt ]] ||
    { _carry_fail "device_carry/ is missing or incomplete: run tools/gpu/prepare_carry.sh and carry device_carry"; return; }
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    "${whl[@]}" || { _carry_fail "pip install into /tmp/site failed"; return; }
  export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
  export RANKATT_VGG16_WEIGHTS="$PWD/device_carry/vgg16_conv4_3.pt"
  # MPLBACKEND is deliberately left unset, not Agg: a kernel that inherits MPLBACKEND=Agg skips
  # ipykernel's inline backend, so every figure cell loses its "<Figure size ...>" output and nbval
  # fails. Outside a kernel, matplotlib falls back to Agg by itself on a machine without a display.
  unset MPLBACKEND
  # Requirements the carried wheels have on the machine's own packages (e.g. ipython: psutil>=7)
  python3 -m pip check 2>/dev/null | grep -viE "widgetsnbextension|jupyterlab.widgets" | grep -iE "^($(printf '%s|' "${whl[@]##*/}" | sed 's/-[^|]*//g; s/|$//; s/[-_]/[-_]/g')) " >&2
  python3 -c 'import cv2; cv2.TrackerCSRT_create' 2>/dev/null || echo "install_carry: warning: no opencv-contrib here," \
    "so the csrt/opencv-kcf/opencv-mosse trackers raise RuntimeError (tests/test_baselines.py," \
    "test_bench.py, test_reproduce_otb.py; chapters 01, 10, 11)" >&2
  echo "install_carry: ${#whl[@]} wheels in /tmp/site; PYTHONPATH=$PYTHONPATH RANKATT_VGG16_WEIGHTS=$RANKATT_VGG16_WEIGHTS"
}
_carry_main
