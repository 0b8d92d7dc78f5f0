import pytest
import torch

import rankatt_lib


def test_version_is_a_string():
    assert isinstance(rankatt_lib.__version__, str)
    assert rankatt_lib.__version__.count(".") == 2


def test_default_device_follows_cuda_availability(monkeypatch):
    monkeypatch.delenv("RANKATT_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert rankatt_lib.device().type == expected


def test_env_var_overrides(monkeypatch):
    monkeypatch.setenv("RANKATT_DEVICE", "cpu")
    assert rankatt_lib.device() == torch.device("cpu")


def test_argument_beats_env_var(monkeypatch):
    monkeypatch.setenv("RANKATT_DEVICE", "nonsense-device")
    assert rankatt_lib.device("cpu") == torch.device("cpu")


def test_invalid_name_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("RANKATT_DEVICE", "nonsense-device")
    with pytest.raises(ValueError, match="RANKATT_DEVICE"):
        rankatt_lib.device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised on a machine without CUDA")
def test_cuda_requested_without_cuda_is_an_error(monkeypatch):
    monkeypatch.setenv("RANKATT_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        rankatt_lib.device()


def test_tensor_ops_run_on_the_chosen_device():
    dev = rankatt_lib.device()
    x = torch.ones(3, device=dev)
    assert (x * 2).device.type == dev.type


def test_exact_float32_switches_tf32_off_and_on():
    conv, matmul = torch.backends.cudnn.conv, torch.backends.cuda.matmul
    saved = (conv.fp32_precision, matmul.fp32_precision)
    try:
        assert rankatt_lib.exact_float32() == {"cudnn.conv": "ieee", "cuda.matmul": "ieee"}
        assert conv.fp32_precision == "ieee" and matmul.fp32_precision == "ieee"
        assert rankatt_lib.exact_float32(False) == {"cudnn.conv": "tf32", "cuda.matmul": "tf32"}
        assert conv.fp32_precision == "tf32" and matmul.fp32_precision == "tf32"
    finally:
        conv.fp32_precision, matmul.fp32_precision = saved


def test_use_threads_takes_the_default_unless_omp_num_threads_says_otherwise(monkeypatch):
    old = torch.get_num_threads()
    try:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        assert rankatt_lib.use_threads(1) == 1 and torch.get_num_threads() == 1
        monkeypatch.setenv("OMP_NUM_THREADS", "3")
        assert rankatt_lib.use_threads(1) == 3 and torch.get_num_threads() == 3
        for bad in ("two", "0", "-1"):
            monkeypatch.setenv("OMP_NUM_THREADS", bad)
            with pytest.raises(ValueError, match="OMP_NUM_THREADS"):
                rankatt_lib.use_threads(2)
        monkeypatch.delenv("OMP_NUM_THREADS")
        with pytest.raises(ValueError, match=">= 1"):
            rankatt_lib.use_threads(0)
    finally:
        torch.set_num_threads(old)
