"""Tests of the `rankatt` command line as a whole: the subcommands that hand their arguments to the
library modules, and the top-level help."""

from __future__ import annotations

import pytest

from rankatt_lib import data


def test_delegated_subcommands_reach_the_library_modules(tmp_path, capsys):
    """run, bench, download and synthetic pass their arguments to the modules' own main()."""
    import subprocess
    import sys

    from rankatt_lib.__main__ import main

    assert main(["download", "--list", "--dataset", "otb2013", "--sequences", "Jogging"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Jogging\t") and "Jogging.zip" in out

    assert main(["synthetic", "--out", str(tmp_path / "syn"), "--split", "test", "--n-test", "2",
                 "--n-train", "0", "--frames", "6", "6", "--size", "64", "48", "--no-progress"]) == 0
    assert "test: 2 sequences, 12 frames" in capsys.readouterr().out
    ds = data.OTBFormatDataset(tmp_path / "syn" / "test")
    assert len(ds) == 2 and len(ds[0]) == 6

    assert main(["run", "--tracker", "no-such-tracker", "--dataset", str(tmp_path / "syn" / "test")]) == 2
    assert "unknown tracker 'no-such-tracker'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["bench", "--help"])
    assert stop.value.code == 0 and "--device" in capsys.readouterr().out

    # report scores the stored results of every tracker (tracks nothing without --track)
    res = tmp_path / "res"
    assert main(["run", "--tracker", "kcf", "--dataset", str(tmp_path / "syn" / "test"), "--results", str(res),
                 "--benchmark", "syn", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["report", "--dataset", str(tmp_path / "syn" / "test"), "--benchmark", "syn", "--results", str(res),
                 "--trackers", "kcf", "mosse", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "not scored, 2 of 2 sequences missing: mosse" in out and "| kcf" in out
    assert (res / "syn" / "report" / "syn_results_otb_protocol.md").is_file()
    assert not (res / "syn" / "mosse").exists()
    with pytest.raises(SystemExit) as stop:
        main(["train", "--help"])
    assert stop.value.code == 0 and "--sweep-init" in capsys.readouterr().out

    top = subprocess.run([sys.executable, "-m", "rankatt_lib", "--help"], capture_output=True, text=True)
    names = ("download", "synthetic", "photo", "run", "score", "report", "bench", "train", "track", "export", "import",
             "vot", "info", "trackers")
    listed = [line.split()[0] for line in top.stdout.splitlines() if line.startswith("    ") and line.split()]
    assert [n for n in listed if n in names] == list(names)  # every command, in the order of the work
    alone = subprocess.run(
        [sys.executable, "-m", "rankatt_lib.data.download", "--list", "--dataset", "otb2013", "--sequences", "David"],
        capture_output=True, text=True,
    )
    assert alone.returncode == 0 and alone.stdout.startswith("David\t")  # printed nothing before


@pytest.mark.parametrize("module, usage", [("rankatt_lib.data.synthetic", "usage: rankatt synthetic"),
                                           ("rankatt_lib.features", "info")])
def test_the_packages_that_were_modules_still_run_with_python_m(module, usage):
    # data.synthetic and features were single modules with a command line before the layers
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert usage in out.stdout
