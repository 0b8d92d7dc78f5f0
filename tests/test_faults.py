"""Fault injection: ``python -m rankatt_lib.evaluation.run`` killed at random points, frames and result files
damaged at random, two runs at once, on a tiny OTB-format dataset; the invariants are checked
after every fault.

The runs are real processes running ``rankatt_lib.evaluation.run.main`` with the registry's ``kcf`` tracker
(deterministic, a few ms per frame). To avoid paying the library's import (seconds) per run, a
worker process imports it once and forks one child per run; the test sends the children real
signals (SIGINT, SIGTERM, SIGKILL) at random moments.

Invariants, checked after every iteration:

* no finished result is lost or changed: a result file, once finished, keeps its bytes, and every
  result file the runner writes equals the one of a clean reference run (byte for byte);
* no partial file counts as finished: a visible ``<seq>.txt`` is either finished (the reference
  bytes) or a file this test damaged, which the next complete run sets aside and redoes;
* nothing is thrown away: every ``.bad`` file holds exactly a damaged file this test wrote;
* every error names its file: a damaged frame or result file is named in the run's output;
* a run that is not killed exits 0 (1 when a frame is damaged: that sequence fails, the others
  finish), leaves no temporary or lock file, and a restart completes the run.

Size: ``RANKATT_FAULT_ITERATIONS`` (default 24) iterations, seed ``RANKATT_FAULT_SEED`` (default 0).
The figures of a run are printed (``pytest -s``) and written to ``$RANKATT_FAULT_REPORT`` if set.
"""

from __future__ import annotations

import collections
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from rankatt_lib.evaluation import results

REPO = Path(__file__).resolve().parents[1]
ITERATIONS = int(os.environ.get("RANKATT_FAULT_ITERATIONS", "24"))
SEED = int(os.environ.get("RANKATT_FAULT_SEED", "0"))
SEQS = {"s1": 22, "s2": 18, "s3": 26, "s4": 14, "s5": 20}  # name -> frames
SIZE = 48
BENCH = "tiny"
TRACKER = "kcf"

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")

WORKER = textwrap.dedent(
    """
    import io, json, os, sys, traceback
    sys.path.insert(0, sys.argv[1])
    from rankatt_lib import registry
    from rankatt_lib.evaluation import run
    registry.available_trackers()  # import every tracker module once, here
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "start":
            pid = os.fork()
            if pid == 0:  # the child never returns to this loop, however it is interrupted
                code = 130
                try:
                    fd = os.open(cmd["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                    os.dup2(fd, 1)
                    os.dup2(fd, 2)
                    sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", buffering=0), write_through=True)
                    sys.stderr = sys.stdout
                    try:
                        code = run.main(cmd["argv"])
                    except KeyboardInterrupt:
                        code = 130  # interrupted outside main's own handling (argparse, scoring)
                    except SystemExit as exc:
                        code = exc.code if isinstance(exc.code, int) else 2
                    except BaseException:
                        traceback.print_exc()
                        code = 99
                    sys.stdout.flush()
                except KeyboardInterrupt:
                    code = 130  # interrupted before the run started
                finally:
                    os._exit(code)
            print(json.dumps({"pid": pid}), flush=True)
        elif cmd["op"] == "wait":
            _, status = os.waitpid(cmd["pid"], 0)
            print(json.dumps({"status": status}), flush=True)
    """
)


class Worker:
    """The forking worker: ``start(argv, log) -> pid``, ``wait(pid) -> (exit code | None, signal | None)``."""

    def __init__(self, tmp: Path) -> None:
        script = tmp / "fault_worker.py"
        script.write_text(WORKER)
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=str(REPO))
        self.proc = subprocess.Popen(
            [sys.executable, str(script), str(REPO)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tmp,
        )

    def _ask(self, cmd: dict) -> dict:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the fault worker died")
        return json.loads(line)

    def start(self, argv: list[str], log: Path) -> int:
        log.write_text("")  # exists even if the child is killed before it opens it
        return self._ask({"op": "start", "argv": argv, "log": str(log)})["pid"]

    def wait(self, pid: int) -> tuple[int | None, int | None]:
        status = self._ask({"op": "wait", "pid": pid})["status"]
        if os.WIFSIGNALED(status):
            return None, os.WTERMSIG(status)
        return os.WEXITSTATUS(status), None

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


def _make_dataset(root: Path) -> Path:
    """OTB-format sequences of JPEG frames: a textured square drifting over a textured background."""
    for k, (name, n) in enumerate(SEQS.items()):
        img = root / name / "img"
        img.mkdir(parents=True)
        rng = np.random.default_rng(k)
        bg = rng.integers(0, 120, (SIZE, SIZE, 3), dtype=np.uint8)
        patch = rng.integers(130, 255, (12, 12, 3), dtype=np.uint8)
        rows = []
        for i in range(n):
            x, y = 8 + (i * (k + 1)) % 24, 10 + i % 9
            frame = bg.copy()
            frame[y : y + 12, x : x + 12] = patch
            assert cv2.imwrite(str(img / f"{i + 1:04d}.jpg"), frame)
            rows.append(f"{x + 1},{y + 1},12,12")
        (root / name / "groundtruth_rect.txt").write_text("\n".join(rows) + "\n")
    return root


def _damage_text(rng: random.Random, text: str) -> tuple[str, bytes]:
    """A damaged copy of a result file: (kind, bytes)."""
    lines = text.splitlines(keepends=True)
    kind = rng.choice(["empty", "fewer_rows", "cut_mid_file", "cut_last_line", "extra_rows", "garbage"])
    if kind == "empty":
        return kind, b""
    if kind == "fewer_rows":
        return kind, "".join(lines[: rng.randrange(1, len(lines))]).encode()
    if kind == "cut_mid_file":
        data = text.encode()
        return kind, data[: rng.randrange(1, len(data))]
    if kind == "cut_last_line":  # e.g. a copy cut short: "..., 12.0\n" -> "..., 1"
        data = text.encode()
        last = len(lines[-1].encode())
        return kind, data[: len(data) - last + rng.randrange(1, last)]
    if kind == "extra_rows":
        return kind, (text + "".join(lines[: rng.randrange(1, 4)])).encode()
    return kind, bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))


def test_faults(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    data = _make_dataset(tmp_path / "data")
    worker = Worker(tmp_path)
    figures: collections.Counter[str] = collections.Counter()
    violations: list[str] = []

    def argv(res: Path) -> list[str]:
        return ["--tracker", TRACKER, "--dataset", str(data), "--results", str(res), "--benchmark", BENCH,
                "--device", "cpu", "--no-progress"]  # fmt: skip

    def run_once(res: Path, log: Path, kill: tuple[float, int] | None = None) -> tuple[int | None, int | None, float]:
        t0 = time.perf_counter()
        pid = worker.start(argv(res), log)
        if kill is not None:
            time.sleep(kill[0])
            try:
                os.kill(pid, kill[1])
            except ProcessLookupError:  # pragma: no cover - already reaped
                pass
        code, sig = worker.wait(pid)
        return code, sig, time.perf_counter() - t0

    try:
        # the reference: one clean run
        ref_dir = tmp_path / "ref"
        code, sig, full = run_once(ref_dir, tmp_path / "ref.log")
        assert (code, sig) == (0, None), (tmp_path / "ref.log").read_text()
        ref = {n: results.result_path(ref_dir, BENCH, TRACKER, n).read_bytes() for n in SEQS}
        # a second clean run (the worker has imported everything now): the time a whole run takes,
        # over which the kills are spread; and the runs are deterministic
        code, sig, full = run_once(tmp_path / "ref2", tmp_path / "ref2.log")
        assert (code, sig) == (0, None)
        assert {n: results.result_path(tmp_path / "ref2", BENCH, TRACKER, n).read_bytes() for n in SEQS} == ref
        for n, k in SEQS.items():
            assert len(results.read_boxes(results.result_path(ref_dir, BENCH, TRACKER, n))) == k

        res = tmp_path / "res"
        folder = results.tracker_dir(res, BENCH, TRACKER)
        damaged: dict[str, bytes] = {}  # sequence -> the damaged bytes this test left in <seq>.txt
        written_bad: dict[str, list[bytes]] = collections.defaultdict(list)  # every damaged content
        finished: dict[str, bytes] = {}  # sequence -> bytes of its finished file

        def check(it: int, what: str, log_text: str, complete: bool) -> None:
            def fail(msg: str) -> None:
                violations.append(f"iteration {it} ({what}): {msg}")

            for n in SEQS:
                p = results.result_path(res, BENCH, TRACKER, n)
                if n in finished and (not p.exists() or p.read_bytes() != finished[n]):
                    fail(f"finished result {p.name} lost or changed")
                if p.exists():
                    b = p.read_bytes()
                    if b == ref[n]:
                        finished[n] = b
                        damaged.pop(n, None)
                    elif damaged.get(n) != b:
                        fail(f"{p.name} is neither finished nor a file this test damaged: {b[:80]!r}")
            if folder.is_dir():
                for b in folder.glob("*.txt.bad*"):
                    seq = b.name.split(".txt.bad")[0]
                    if b.read_bytes() not in written_bad[seq]:
                        fail(f"{b.name} holds something this test never wrote")
                n_bad = len(list(folder.glob("*.txt.bad*")))
                if n_bad < figures["bad files kept"]:
                    fail(f"a .bad file disappeared ({n_bad} < {figures['bad files kept']})")
                figures["bad files kept"] = n_bad
            if "Traceback" in log_text:
                fail(f"a traceback in the output: {log_text[-500:]}")
            if complete:
                left = [p.name for p in folder.iterdir() if p.name.endswith((".tmp", ".lock"))]
                if left:
                    fail(f"a complete run left {left}")
                for n, k in SEQS.items():
                    t = results.times_path(res, BENCH, TRACKER, n)
                    if n in finished and len(results.read_times(t)) != k:
                        fail(f"{t.name} does not have {k} rows")

        kinds = ["kill", "kill", "kill", "damage_result", "damage_result", "damage_frame", "concurrent"]
        for it in range(ITERATIONS):
            kind = rng.choice(kinds)
            log = tmp_path / f"run{it}.log"
            if kind == "kill":
                # give the run some work (else most kills land after a run that only skips)
                for n in rng.sample(list(SEQS), rng.randrange(0, 4)):
                    results.result_path(res, BENCH, TRACKER, n).unlink(missing_ok=True)
                    finished.pop(n, None)
                    damaged.pop(n, None)
                sig = rng.choice([signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
                delay = rng.uniform(0.0, full * 0.8)
                code, got, _ = run_once(res, log, (delay, sig))
                figures[f"kill {signal.Signals(sig).name}"] += 1
                figures["kills that stopped a run (others came after its end)"] += got is not None or code == 130
                text = log.read_text(errors="replace")
                if got is None and code not in (0, 130):
                    violations.append(f"iteration {it}: killed run exited {code}: {text[-500:]}")
                check(it, f"kill {signal.Signals(sig).name} after {delay:.3f}s", text, complete=False)
            elif kind == "damage_result":
                done = [n for n in SEQS if results.result_path(res, BENCH, TRACKER, n).exists()]
                if not done:
                    kind = "damage_frame"
                else:
                    n = rng.choice(done)
                    p = results.result_path(res, BENCH, TRACKER, n)
                    how, bad = _damage_text(rng, ref[n].decode())
                    p.write_bytes(bad)
                    finished.pop(n, None)
                    damaged[n] = bad
                    written_bad[n].append(bad)
                    figures[f"result file damaged ({how})"] += 1
                    code, got, _ = run_once(res, log)
                    text = log.read_text(errors="replace")
                    if (code, got) != (0, None):
                        violations.append(f"iteration {it}: after damaging {p.name}: exit {code, got}: {text[-500:]}")
                    if str(p) not in text:
                        violations.append(f"iteration {it}: the output does not name the damaged {p}: {text[-500:]}")
                    check(it, f"damaged {p.name} ({how})", text, complete=True)
                    if p.read_bytes() != ref[n]:
                        violations.append(f"iteration {it}: {p.name} ({how}) was not tracked again")
            if kind == "damage_frame":
                n = rng.choice(list(SEQS))
                frame = data / n / "img" / f"{rng.randrange(1, SEQS[n] + 1):04d}.jpg"
                original = frame.read_bytes()
                frame.write_bytes(original[: rng.randrange(0, len(original) - 2)])
                figures["frame truncated"] += 1
                try:
                    code, got, _ = run_once(res, log)
                finally:
                    frame.write_bytes(original)
                text = log.read_text(errors="replace")
                was_finished = n in finished
                if was_finished:  # a finished sequence is skipped: its frames are not read again
                    if (code, got) != (0, None):
                        violations.append(f"iteration {it}: exited {code, got} with {n} already finished")
                elif (code, got) != (1, None) or f"FAILED {n}" not in text or str(frame) not in text:
                    violations.append(f"iteration {it}: damaged {frame} not reported: {code, got}: {text[-500:]}")
                p = results.result_path(res, BENCH, TRACKER, n)
                if not was_finished and p.exists() and p.read_bytes() != damaged.get(n):
                    violations.append(f"iteration {it}: {p.name} written although frame {frame.name} is damaged")
                check(it, f"truncated {frame}", text, complete=True)
            if kind == "concurrent":
                for n in rng.sample(list(SEQS), 2):  # something to do for both
                    p = results.result_path(res, BENCH, TRACKER, n)
                    if p.exists():
                        p.unlink()
                        finished.pop(n, None)
                        damaged.pop(n, None)
                figures["two runs at once"] += 1
                logs = [tmp_path / f"run{it}a.log", tmp_path / f"run{it}b.log"]
                pids = [worker.start(argv(res), lg) for lg in logs]
                outcomes = [worker.wait(pid) for pid in pids]
                texts = [lg.read_text(errors="replace") for lg in logs]
                for (code, got), text in zip(outcomes, texts, strict=True):
                    if got is not None or code not in (0, 1) or (code == 1 and "BUSY" not in text):
                        violations.append(f"iteration {it}: concurrent run exited {code, got}: {text[-500:]}")
                tracked = sum(int(t.split(" done,")[0].rsplit(" ", 1)[-1]) for t in texts if " done," in t)
                if tracked > len(SEQS):
                    violations.append(f"iteration {it}: two runs tracked {tracked} sequences for {len(SEQS)}")
                figures["busy sequences seen"] += sum(t.count("BUSY ") for t in texts)
                check(it, "two runs at once", "\n".join(texts), complete=False)

        # a restart completes the run
        code, got, _ = run_once(res, tmp_path / "final.log")
        text = (tmp_path / "final.log").read_text(errors="replace")
        if (code, got) != (0, None):
            violations.append(f"the final restart exited {code, got}: {text[-500:]}")
        check(ITERATIONS, "final restart", text, complete=True)
        for n in SEQS:
            if results.result_path(res, BENCH, TRACKER, n).read_bytes() != ref[n]:
                violations.append(f"after the final restart {n}.txt differs from the reference run")
    finally:
        worker.close()

    figures["iterations"] = ITERATIONS
    kinds = ("kill SIG", "result file", "frame", "two runs")
    faults = sum(v for k, v in figures.items() if k.startswith(kinds))
    figures["faults injected"] = faults
    figures["invariant violations"] = len(violations)
    summary = json.dumps(dict(sorted(figures.items())), indent=1)
    print(f"\nfault injection (seed {SEED}):\n{summary}")
    if os.environ.get("RANKATT_FAULT_REPORT"):
        Path(os.environ["RANKATT_FAULT_REPORT"]).write_text(summary + "\n" + "\n".join(violations) + "\n")
    assert not violations, "\n".join(violations[:20])
    assert faults >= ITERATIONS
