"""Run nbval over the chapters under several floating-point configurations of one CPU.

PyTorch and the libraries under it choose their code paths by CPU, and each path sums in its own
order: ATen's vectorised kernels (``ATEN_CPU_CAPABILITY``: ``default``, ``avx2``, ``avx512``),
oneDNN's convolutions (``ONEDNN_MAX_CPU_ISA``: ``SSE41``, ``AVX2``, ``AVX512_CORE``, ...), MKL
(``MKL_CBWR``: ``COMPATIBLE``, ``AVX2``, ...) and the number of threads (``OMP_NUM_THREADS``, which
the chapters honour through ``rankatt_lib.use_threads``). A chapter output that holds under all of
these holds on the laptops, servers and GPUs the book's readers use; one that differs between them
is found here rather than on a reader's machine.

    python tools/numeric_configs.py list                  # the configurations
    python tools/numeric_configs.py env avx2              # KEY=VALUE ... (for `env` in the Makefile)
    python tools/numeric_configs.py fingerprint [NAME...] # what each configuration really selects
    python tools/numeric_configs.py run [NAME...] [--chapters book/05*.ipynb ...] [--jobs 2]

``run`` writes ``_build/portability/NAME.xml`` (nbval's junit report) and ``NAME.log`` per
configuration and skips a configuration whose report exists (``--force`` runs it again), so an
interrupted run resumes; it ends with the table configuration -> passed / failed cells.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "_build" / "portability"

# name -> (environment, what it stands for). "native" sets nothing: this machine's own choices.
CONFIGS: dict[str, tuple[dict[str, str], str]] = {
    "native": ({}, "this CPU's own choices, the chapters' default of 2 threads"),
    "avx2": ({"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2"},
             "an AVX2 CPU without AVX-512 (e.g. AMD EPYC / Ryzen), 2 threads: make test's second nbval pass"),
    "avx2-1t": ({"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2",
                 "OMP_NUM_THREADS": "1"}, "the same with one thread"),
    "native-3t": ({"OMP_NUM_THREADS": "3"}, "this CPU with 3 threads (another split of every sum)"),
    "avx2-3t": ({"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2",
                 "OMP_NUM_THREADS": "3"}, "AVX2 with 3 threads"),
    "avx512core-compat-1t": ({"ATEN_CPU_CAPABILITY": "avx512", "ONEDNN_MAX_CPU_ISA": "AVX512_CORE",
                              "MKL_CBWR": "COMPATIBLE", "OMP_NUM_THREADS": "1"},
                             "AVX-512 without AMX/VNNI extensions in oneDNN, MKL's compatible path, 1 thread"),
    "ci": ({"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41", "MKL_CBWR": "COMPATIBLE",
            "OMP_NUM_THREADS": "1"},
           "no vector kernels in ATen, SSE4.1 in oneDNN, MKL's compatible path, 1 thread (the strictest; ~3x slower)"),
}

_PROBE = r"""
import json, os, re, subprocess, sys
import torch
import rankatt_lib
n = rankatt_lib.use_threads(2)
x = torch.randn(1, 64, 64, 64); w = torch.randn(64, 64, 3, 3)   # large enough for oneDNN
with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
    torch.nn.functional.conv2d(x, w)
print(json.dumps({"aten": torch.backends.cpu.get_cpu_capability(), "threads": n,
                  "mkl_cbwr": os.environ.get("MKL_CBWR", "(default)")}))
"""


def environment(name: str) -> dict[str, str]:
    """The process environment for configuration ``name`` (the current one plus its settings;
    an inherited setting of the same family that the configuration does not set is removed)."""
    if name not in CONFIGS:
        raise SystemExit(f"unknown configuration {name!r}; known: {', '.join(CONFIGS)}")
    env = {k: v for k, v in os.environ.items()
           if k not in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "MKL_CBWR",
                        "OMP_NUM_THREADS")}
    env.update(CONFIGS[name][0])
    return env


def fingerprint(name: str) -> dict:
    """What configuration ``name`` really selects: ATen's capability, the thread count the chapters
    get, oneDNN's ISA (from its verbose log of one convolution) and MKL_CBWR."""
    env = environment(name)
    proc = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True,
                          cwd=ROOT, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"probe failed under {name}: {proc.stderr[-1000:]}")
    lines = proc.stdout.strip().splitlines()
    info = json.loads(lines[-1])
    isa = next((ln.split("isa:", 1)[1].split(",")[0].strip() for ln in lines if "isa:" in ln), "?")
    info["onednn_isa"] = isa
    return info


def failed_cells(report: Path) -> tuple[int, list[str]]:
    """(cells passed, names of the failed cells) in an nbval junit report."""
    tree = ET.parse(report)
    passed, failed = 0, []
    for case in tree.iter("testcase"):
        bad = case.find("failure") is not None or case.find("error") is not None
        skipped = case.find("skipped") is not None
        cls = case.get("classname", "")
        chapter = (cls[: -len(".ipynb")] if cls.endswith(".ipynb") else cls).split(".")[-1]
        if bad:
            failed.append(f"{chapter}:{case.get('name', '?').replace('Cell ', 'c')}")
        elif not skipped:
            passed += 1
    return passed, failed


def run_config(name: str, chapters: list[str], force: bool) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    report, log = OUT / f"{name}.xml", OUT / f"{name}.log"
    if report.exists() and not force:
        print(f"{name}: report exists, skipped (--force runs it again)", flush=True)
        return report
    partial = report.with_suffix(".xml.partial")
    start = time.perf_counter()
    print(f"{name}: nbval over {len(chapters)} path(s) ...", flush=True)
    with open(log, "w") as fh:
        subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--nbval",
                        "--nbval-current-env", "--nbval-sanitize-with", "tests/nbval_sanitize.cfg",
                        "-q", "-rf", "--junitxml", str(partial), *chapters],
                       env=environment(name), cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, check=False)
    if not partial.exists():
        raise RuntimeError(f"{name}: nbval wrote no report; see {log}")
    partial.replace(report)
    print(f"{name}: done in {time.perf_counter() - start:.0f} s", flush=True)
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list")
    e = sub.add_parser("env")
    e.add_argument("name")
    f = sub.add_parser("fingerprint")
    f.add_argument("names", nargs="*")
    r = sub.add_parser("run")
    r.add_argument("names", nargs="*")
    r.add_argument("--chapters", nargs="+", default=["book"])
    r.add_argument("--jobs", type=int, default=1, help="configurations run at once")
    r.add_argument("--force", action="store_true")
    a = p.parse_args(argv)
    if a.cmd == "list":
        for name, (env, what) in CONFIGS.items():
            print(f"{name:22s} {' '.join(f'{k}={v}' for k, v in env.items()) or '(nothing set)'}\n"
                  f"{'':22s} {what}")
        return 0
    if a.cmd == "env":
        environment(a.name)
        print(" ".join(f"{k}={v}" for k, v in CONFIGS[a.name][0].items()))
        return 0
    names = a.names or list(CONFIGS)
    for n in names:
        environment(n)
    if a.cmd == "fingerprint":
        for n in names:
            print(f"{n:22s} {fingerprint(n)}")
        return 0
    with ThreadPoolExecutor(max(1, a.jobs)) as pool:
        reports = list(pool.map(lambda n: run_config(n, a.chapters, a.force), names))
    print("\n| configuration | ATen | oneDNN ISA | MKL_CBWR | threads | cells passed | cells failed |")
    print("|---|---|---|---|---|---|---|")
    bad = 0
    for n, rep in zip(names, reports, strict=True):
        fp = fingerprint(n)
        passed, failed = failed_cells(rep)
        bad += len(failed)
        print(f"| {n} | {fp['aten']} | {fp['onednn_isa']} | {fp['mkl_cbwr']} | {fp['threads']} | {passed} | "
              f"{len(failed)}{': ' + ', '.join(failed) if failed else ''} |")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
