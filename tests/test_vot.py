"""`rankatt vot TRACKER`: a TraX tracker process, driven end to end by the TraX reference client
(vot-trax's trax.client, the library vot-toolkit's runner is built on) over synthetic frames."""

from __future__ import annotations

import configparser
import dataclasses
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import rankatt_lib
from rankatt_lib import data
from rankatt_lib.data.synthetic import plan_benchmark, write_sequence
from rankatt_lib.evaluation import results
from rankatt_lib.evaluation.run import run_tracker
from rankatt_lib.registry import make_tracker

trax = pytest.importorskip("trax")
from trax.client import Client  # noqa: E402

TRACKER = "kcf"
REPO = str(Path(rankatt_lib.__file__).resolve().parents[1])


@pytest.fixture(scope="module")
def seq(tmp_path_factory):
    root = tmp_path_factory.mktemp("vot") / "syn"
    write_sequence(dataclasses.replace(plan_benchmark(0)[1], n_frames=8, image_size=(160, 120)), root)
    return next(iter(data.OTBFormatDataset(root)))


@pytest.fixture(scope="module")
def ours(seq, tmp_path_factory):
    out = tmp_path_factory.mktemp("ours")
    run_tracker(TRACKER, [seq], out, benchmark="syn", progress=False)
    return results.load_results(out, "syn", TRACKER)[seq.name]


class Session:
    """`python -m rankatt_lib vot TRACKER` on two pipes (TRAX_IN / TRAX_OUT) and a TraX client."""

    def __init__(self, tracker, cwd):
        to_server_r, self.to_server_w = os.pipe()
        self.from_server_r, from_server_w = os.pipe()
        env = dict(os.environ, TRAX_IN=str(to_server_r), TRAX_OUT=str(from_server_w))
        env["PYTHONPATH"] = os.pathsep.join([REPO, env.get("PYTHONPATH", "")])
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rankatt_lib", "vot", tracker],
            env=env,
            cwd=cwd,
            pass_fds=(to_server_r, from_server_w),
            stderr=subprocess.PIPE,
            text=True,
        )
        os.close(to_server_r)
        os.close(from_server_w)
        self.log: list[str] = []
        self.client = Client(stream=(self.to_server_w, self.from_server_r), timeout=120, log=self.log.append)

    @staticmethod
    def image(path):
        return {"color": trax.FileImage.create(str(path))}

    def initialize(self, path, region):
        objects, _ = self.client.initialize(self.image(path), [(region, {})], {})
        return np.array(objects[0][0].bounds())

    def frame(self, path):
        objects, _ = self.client.frame(self.image(path), {}, [])
        return np.array(objects[0][0].bounds())

    def close(self):
        self.client.quit()
        rc = self.proc.wait(timeout=60)
        err = self.proc.stderr.read()
        self.proc.stderr.close()
        for fd in (self.to_server_w, self.from_server_r):
            try:
                os.close(fd)
            except OSError:
                pass
        return rc, err

    @property
    def transcript(self):
        return "".join(self.log)


def test_a_trax_session_gives_the_project_runners_boxes(seq, ours, tmp_path):
    s = Session(TRACKER, tmp_path)
    try:
        assert s.client.tracker_name == f"rankatt-{TRACKER}"
        first = seq.gt[0] - [1, 1, 0, 0]  # VOT regions: the top-left pixel is 0, 0
        got = [s.initialize(seq.frames[0], trax.Rectangle.create(*first))]
        got += [s.frame(f) for f in seq.frames[1:]]
    finally:
        rc, err = s.close()
    assert rc == 0, err
    got = np.array(got) + [1, 1, 0, 0]
    assert not np.allclose(ours[-1], ours[0])  # the target moved
    # TraX sends regions as text with four decimals
    np.testing.assert_allclose(got, ours, atol=1e-4, rtol=0)
    t = s.transcript
    print(t)
    assert t.startswith("@@TRAX:hello") and f'"trax.name=rankatt-{TRACKER}"' in t and '"trax.image=path;"' in t
    assert t.count("@@TRAX:state") == len(seq) and t.count("@@TRAX:quit") == 1
    wire = ",".join(f"{v:.4f}" for v in got[2] - [1, 1, 0, 0])
    assert f'@@TRAX:state "{wire}"' in t


def test_reinitialisation_builds_a_fresh_tracker_and_polygons_are_their_bounds(seq, tmp_path):
    s = Session(TRACKER, tmp_path)
    try:
        s.initialize(seq.frames[0], trax.Rectangle.create(*(seq.gt[0] - [1, 1, 0, 0])))
        s.frame(seq.frames[1])
        # the toolkit re-initialises after a failure: on frame 4, with a polygon (VOT's rotated boxes)
        x, y, w, h = seq.gt[3] - [1, 1, 0, 0]
        poly = trax.Polygon.create([(x, y), (x + w, y), (x + w, y + h), (x, y + h)])
        again = s.initialize(seq.frames[3], poly)
        nxt = s.frame(seq.frames[4])
    finally:
        rc, err = s.close()
    assert rc == 0, err
    np.testing.assert_allclose(again, [x, y, w, h], atol=1e-4)
    fresh = make_tracker(TRACKER)
    fresh.init(seq.image(3), seq.gt[3].copy())
    np.testing.assert_allclose(nxt + [1, 1, 0, 0], fresh.update(seq.image(4)), atol=1e-4, rtol=0)


def test_ini_snippet_is_what_vot_toolkit_reads(capsys):
    from rankatt_lib.__main__ import main

    assert main(["vot", TRACKER, "--ini"]) == 0
    text = capsys.readouterr().out
    ini = configparser.ConfigParser()
    ini.read_string(text)
    section = ini[f"rankatt-{TRACKER}"]
    assert section["protocol"] == "trax" and section["label"] == f"rankatt-{TRACKER}"
    assert shlex.split(section["command"]) == [sys.executable, "-m", "rankatt_lib", "vot", TRACKER]
    assert main(["vot", TRACKER, "--ini", "--label", "mine"]) == 0
    assert "[mine]" in capsys.readouterr().out


def test_errors_before_any_handshake(capsys, monkeypatch):
    from rankatt_lib.__main__ import main

    assert main(["vot", "no-such-tracker"]) == 2
    assert "error:" in capsys.readouterr().err
    assert main(["vot", "no-such-tracker", "--ini"]) == 2
    assert "no-such-tracker" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "trax", None)
    assert main(["vot", TRACKER]) == 2
    assert "pip install vot-trax" in capsys.readouterr().err
