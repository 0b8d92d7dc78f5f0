"""Tests of rankatt_lib.components.convlstm: PreNet (Eq. 7), the ConvLSTM cell (Eq. 6) and the ranking update."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from rankatt_lib.components.attention import attention_map, ranking_loss
from rankatt_lib.components.convlstm import (
    ConvLSTMCell,
    PreNet,
    RankingUpdater,
    RankingUpdaterConfig,
    fp32_megabytes,
    parameter_count,
)
from rankatt_lib.components.ranking import Ranking

CPU = torch.device("cpu")
C, K, H = 8, 5, 13  # tiny channels, 5 x 5 kernels, 13 x 13 features
SMALL = RankingUpdaterConfig(channels=C, prenet_hidden=4, rank=6)


@pytest.fixture(autouse=True)
def _one_intra_op_thread():
    """Small tensors: intra-op threads only add overhead, and stall badly on a busy shared CPU."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def cell(**kw) -> ConvLSTMCell:
    kw.setdefault("seed", 0)
    kw.setdefault("kernel_size", 3)
    return ConvLSTMCell(C, device=CPU, **kw)


# ------------------------------------------------------------------------------- PreNet


def test_prenet_shapes():
    net = PreNet(C, hidden=4, seed=0, device=CPU)
    assert net(rand(1, C, K, K), rand(2, C, H, H)).shape == (2, C, K, K)
    assert net(rand(2, C, K, K), rand(2, C, H, H)).shape == (2, C, K, K)  # one kernel per sample
    assert net(rand(1, C, 3, 3), rand(1, C, 9, 9)).shape == (1, C, 3, 3)  # pools to the kernel's size


def test_prenet_uses_the_precomputed_response_and_is_scale_free():
    net = PreNet(C, hidden=4, seed=0, device=CPU)
    c1st, xS = rand(1, C, K, K, seed=1), rand(1, C, H, H, seed=2)
    out = net(c1st, xS)
    torch.testing.assert_close(net(c1st, xS, response=attention_map(c1st, xS)), out)
    # both the kernel's and the features' scales are normalised away
    torch.testing.assert_close(net(3.0 * c1st, 100.0 * xS), out, rtol=1e-5, atol=1e-6)


def test_prenet_paper_shape_and_size():
    net = PreNet(seed=0, device=CPU)
    with torch.no_grad():
        out = net(torch.rand(1, 512, 11, 11) - 0.4, torch.rand(1, 512, 31, 31))
    assert out.shape == (1, 512, 11, 11)
    assert parameter_count(net) == 512 * 64 + 64 + 64 * 512 * 9 + 512 == 328_256


def test_prenet_shape_errors():
    net = PreNet(C, hidden=4, seed=0, device=CPU)
    with pytest.raises(ValueError, match=rf"c1st must be \(1, {C}, k, k\)"):
        net(rand(1, C + 1, K, K), rand(1, C, H, H))
    with pytest.raises(ValueError, match=rf"xS must be \(B, {C}, H8, W8\)"):
        net(rand(2, C, K, K), rand(3, C, H, H))
    with pytest.raises(ValueError, match=rf"response must be \(1, 1, {H}, {H}\)"):
        net(rand(1, C, K, K), rand(1, C, H, H), response=rand(1, 1, H - 1, H))


# ------------------------------------------------------------------------------- cell: sizes


def test_parameter_counts_of_the_two_gate_convolutions():
    sep = ConvLSTMCell(seed=0, device=CPU)  # default: separable, rank 256
    # depthwise 1024 x 3 x 3, pointwise 1024 -> 256 -> 2048 (+ 2048 biases)
    assert parameter_count(sep) == 1024 * 9 + 1024 * 256 + 256 * 2048 + 2048 == 797_696
    assert fp32_megabytes(sep) < 3.5
    full_rank = ConvLSTMCell(rank=None, seed=0, device=CPU)
    assert parameter_count(full_rank) == 1024 * 9 + 1024 * 2048 + 2048 == 2_108_416
    full = ConvLSTMCell(gate_conv="full", seed=0, device=CPU)
    assert parameter_count(full) == 1024 * 2048 * 9 + 2048 == 18_876_416
    assert fp32_megabytes(full) > 75


# ------------------------------------------------------------------------------- cell: equations


def manual_step(
    weight: torch.Tensor, bias: torch.Tensor, h: torch.Tensor, c: torch.Tensor, x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The textbook ConvLSTM with separate W_x*, W_h* per gate (weight: (4C, Cx + C, k, k))."""
    cx = x.shape[1]
    pad = weight.shape[-1] // 2
    pre = []
    for k in range(4):
        rows = slice(k * C, (k + 1) * C)
        wx, wh = weight[rows, :cx], weight[rows, cx:]
        pre.append(F.conv2d(x, wx, padding=pad) + F.conv2d(h, wh, padding=pad) + bias[rows, None, None])
    i, f, o, g = torch.sigmoid(pre[0]), torch.sigmoid(pre[1]), torch.sigmoid(pre[2]), torch.tanh(pre[3])
    c_t = f * c + i * g
    return o * torch.tanh(c_t), c_t


def test_full_cell_matches_the_gate_equations():
    m = cell(gate_conv="full", kernel_norm="none", init_gain=3.0)  # large weights: non-trivial gates
    h, c, x = rand(2, C, K, K, seed=1) - 0.5, rand(2, C, K, K, seed=2) - 0.5, rand(2, C, K, K, seed=3)
    h_t, c_t = m(h, c, x)
    h_ref, c_ref = manual_step(m.gates.weight, m.gates.bias, h, c, x)
    torch.testing.assert_close(h_t, h_ref)
    torch.testing.assert_close(c_t, c_ref)


@pytest.mark.parametrize("rank", [6, None])
def test_separable_cell_is_a_structured_full_convolution(rank):
    m = cell(rank=rank, kernel_norm="none", init_gain=3.0)
    dw, *pws = m.gates
    # effective full weight: W[o, c, u, v] = (PW2 @ PW1)[o, c] * DW[c, 0, u, v]
    point = pws[-1].weight[:, :, 0, 0]
    if len(pws) == 2:
        point = point @ pws[0].weight[:, :, 0, 0]
    weight = point[:, :, None, None] * dw.weight[:, 0][None]
    h, c, x = rand(1, C, K, K, seed=4) - 0.5, rand(1, C, K, K, seed=5) - 0.5, rand(1, C, K, K, seed=6)
    h_t, c_t = m(h, c, x)
    h_ref, c_ref = manual_step(weight, pws[-1].bias, h, c, x)
    torch.testing.assert_close(h_t, h_ref)
    torch.testing.assert_close(c_t, c_ref)


def test_kernel_norm_max_runs_the_cell_in_normalised_units():
    plain, normed = cell(kernel_norm="none"), cell(kernel_norm="max")
    normed.load_state_dict(plain.state_dict())
    h, c, x = rand(1, C, K, K, seed=7) - 0.5, (rand(1, C, K, K, seed=8) - 0.5) * 1e-4, rand(1, C, K, K)
    s = c.abs().amax()
    h_t, c_t = normed(h * s, c, x)
    h_ref, c_ref = plain(h, c / s, x)
    torch.testing.assert_close(h_t, s * h_ref)
    torch.testing.assert_close(c_t, s * c_ref)
    # equivariant to the kernels' scale
    for a in (1e-6, 0.3, 1e4):
        h_a, c_a = normed(a * h * s, a * c, x)
        torch.testing.assert_close(h_a, a * h_t, rtol=1e-5, atol=0)
        torch.testing.assert_close(c_a, a * c_t, rtol=1e-5, atol=0)
    # an all-zero kernel is not divided by 0
    h0, c0 = normed(torch.zeros_like(h), torch.zeros_like(c), x)
    assert torch.isfinite(h0).all() and torch.isfinite(c0).all()


def _growing_cell(**kw) -> ConvLSTMCell:
    """A cell whose gates make the cell state grow: i = f = sigmoid(6), g = tanh(2) everywhere."""
    m = cell(**kw)
    last = m.last_gate_layer
    with torch.no_grad():
        last.weight.zero_()
        last.bias[: 2 * C] = 6.0  # input and forget gates ~1
        last.bias[3 * C :] = 2.0  # candidate ~0.96
    return m


@pytest.mark.parametrize("kernel_norm", ["max", "none"])
def test_cell_norm_input_keeps_the_input_cell_state_norm(kernel_norm):
    m = cell(kernel_norm=kernel_norm, cell_norm="input", init_gain=3.0)
    plain = cell(kernel_norm=kernel_norm, cell_norm="none", init_gain=3.0)
    plain.load_state_dict(m.state_dict())
    # two samples at very different scales, one of them all negative
    c = torch.cat([(rand(1, C, K, K, seed=11) - 0.5) * 1e-4, -rand(1, C, K, K, seed=12) * 30.0])
    h, x = rand(2, C, K, K, seed=13) - 0.5, rand(2, C, K, K, seed=14)
    h_t, c_t = m(h * c.abs().amax(dim=(1, 2, 3), keepdim=True), c, x)
    torch.testing.assert_close(c_t.flatten(1).norm(dim=1), c.flatten(1).norm(dim=1), rtol=1e-5, atol=0)
    # the same direction as the unnormalised update: only the length changed
    _, c_plain = plain(h * c.abs().amax(dim=(1, 2, 3), keepdim=True), c, x)
    assert (F.cosine_similarity(c_t.flatten(1), c_plain.flatten(1), dim=1) > 1 - 1e-5).all()
    assert not torch.allclose(c_t.norm(), c_plain.norm(), rtol=1e-3)
    # h_t is computed from the rescaled cell state (o tanh(c_t) at the kernels' scale)
    assert torch.isfinite(h_t).all()


def test_cell_norm_input_stops_the_kernel_norm_from_growing_over_a_long_sequence():
    """The defect it fixes: with kernel_norm="max" the normalised cell state gains ~i g a step,
    so the kernel scale grows geometrically and a few hundred steps overflow."""
    grow, fixed = _growing_cell(cell_norm="none"), _growing_cell(cell_norm="input")
    c0 = (rand(1, C, K, K, seed=15) - 0.3) * 1e-3
    x = rand(1, C, K, K, seed=16)
    with torch.no_grad():
        h_g, c_g = c0, c0
        h_f, c_f = c0, c0
        norms = []
        for _ in range(300):
            h_g, c_g = grow(h_g, c_g, x)
            h_f, c_f = fixed(h_f, c_f, x)
            norms.append(float(c_f.norm()))
    assert not torch.isfinite(c_g).all()  # as printed + max-normalisation: overflow
    assert torch.isfinite(c_f).all() and torch.isfinite(h_f).all()
    np_norms = torch.tensor(norms)
    torch.testing.assert_close(np_norms, torch.full_like(np_norms, float(c0.norm())), rtol=1e-4, atol=0)
    assert float(h_f.abs().max()) <= float(c0.norm())


def test_cell_norm_input_on_a_zero_kernel_and_bad_option():
    m = _growing_cell(cell_norm="input")
    z = torch.zeros(1, C, K, K)
    h_t, c_t = m(z, z, rand(1, C, K, K))
    assert torch.isfinite(h_t).all() and torch.isfinite(c_t).all()
    with pytest.raises(ValueError, match="cell_norm"):
        cell(cell_norm="l2")


def test_updater_config_defaults_to_cell_norm_input_and_old_checkpoints_load_without_it(tmp_path):
    assert RankingUpdaterConfig().cell_norm == "input"
    u = RankingUpdater(SMALL, seed=0, device=CPU)
    assert u.cell.cell_norm == "input"
    path = u.save(tmp_path / "new.pt")
    assert RankingUpdater.load(path).cell.cell_norm == "input"
    # a checkpoint written before the field existed was trained without the rescale
    payload = torch.load(path, weights_only=True)
    del payload["config"]["cell_norm"]
    torch.save(payload, tmp_path / "old.pt")
    old = RankingUpdater.load(tmp_path / "old.pt")
    assert old.config.cell_norm == "none" and old.cell.cell_norm == "none"


def test_initial_gates_make_a_running_average_of_the_best_kernel():
    m = cell()
    last = m.last_gate_layer
    assert last.bias[:C].unique().tolist() == [-3.0]
    assert last.bias[C : 2 * C].unique().tolist() == [3.0]
    assert last.bias[2 * C : 3 * C].unique().tolist() == [3.0]
    assert last.bias[3 * C :].unique().tolist() == [0.0]
    c = (rand(1, C, K, K, seed=9) - 0.3) * 1e-4
    x = rand(1, C, K, K, seed=10)
    with torch.no_grad():
        last.weight.zero_()  # gates = sigmoid(bias): c_t = sigmoid(3) c, h_t = sigmoid(3) s tanh(c / s)
        h_t, c_t = m(c, c, x)
    s = c.abs().amax()
    sig3 = 1 / (1 + math.exp(-3))
    torch.testing.assert_close(c_t, sig3 * c)
    torch.testing.assert_close(h_t, sig3 * s * torch.tanh(c / s))
    # with the default (small) weights the update stays close to that
    m.reset_parameters(torch.Generator().manual_seed(0))
    with torch.no_grad():
        h_t, c_t = m(c, c, x)
    assert ((c_t - sig3 * c).abs() <= (1 - sig3) * s * 1.1).all()
    assert F.cosine_similarity(c_t.flatten(), c.flatten(), dim=0) > 0.95
    assert F.cosine_similarity(h_t.flatten(), c.flatten(), dim=0) > 0.95


def test_seeded_init_is_deterministic():
    a, b, other = cell(seed=3), cell(seed=3), cell(seed=4)
    states = (a.state_dict().items(), b.state_dict().values(), other.state_dict().values())
    for (name, pa), pb, po in zip(*states, strict=True):
        torch.testing.assert_close(pa, pb, rtol=0, atol=0)
        if name.endswith("weight"):
            assert not torch.equal(pa, po)
    u1, u2 = RankingUpdater(SMALL, seed=7, device=CPU), RankingUpdater(SMALL, seed=7, device=CPU)
    for pa, pb in zip(u1.parameters(), u2.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_cell_shape_errors_and_bad_options():
    m = cell()
    good = rand(1, C, K, K)
    with pytest.raises(ValueError, match=rf"c_prev must be \(B, {C}, k, k\)"):
        m(good, rand(1, C + 1, K, K), good)
    with pytest.raises(ValueError, match=rf"h_prev must be \(1, {C}, {K}, {K}\)"):
        m(rand(1, C, K + 1, K), good, good)
    with pytest.raises(ValueError, match=rf"x must be \(1, {C}, {K}, {K}\)"):
        m(good, good, rand(2, C, K, K))
    with pytest.raises(ValueError, match="gate_conv"):
        cell(gate_conv="dense")
    with pytest.raises(ValueError, match="kernel_norm"):
        cell(kernel_norm="l2")
    with pytest.raises(ValueError, match="odd"):
        cell(kernel_size=2)


# ------------------------------------------------------------------------------- training (Eq. 9)


def test_gradient_reaches_prenet_and_cell_through_eq9():
    u = RankingUpdater(SMALL, seed=0, device=CPU)
    with torch.no_grad():  # non-trivial gates so that every path carries gradient
        u.cell.last_gate_layer.weight.mul_(30.0)
    xS = rand(2, C, H, H, seed=11)
    c1st = (rand(2, C, K, K, seed=12) - 0.3) * 0.1
    h_prev = (rand(2, C, K, K, seed=13) - 0.3) * 0.1
    yS = torch.zeros(2, H, H)
    yS[:, H // 2, H // 2] = 1.0
    x_pre = u.prenet(c1st, xS)
    h_t, _ = u.cell(h_prev, c1st, x_pre)
    ranking_loss(h_t, xS, yS).backward()
    for name, p in u.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_a_few_adam_steps_reduce_the_eq9_loss():
    torch.manual_seed(0)
    u = RankingUpdater(SMALL, seed=0, device=CPU)
    xS = rand(1, C, H, H, seed=14)
    c1st = (rand(1, C, K, K, seed=15) - 0.5) * 0.05
    yS = torch.zeros(1, H, H)
    yS[0, H // 2, H // 2] = 1.0
    opt = torch.optim.Adam(u.parameters(), lr=1e-2)
    losses = []
    for _ in range(8):
        opt.zero_grad()
        h_t, _ = u.cell(c1st, c1st, u.prenet(c1st, xS))
        loss = ranking_loss(h_t, xS, yS)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


# ------------------------------------------------------------------------------- the ranking update


def peaked_features() -> torch.Tensor:
    x = rand(1, C, H, H, seed=16) * 0.1
    x[0, 0, H // 2, H // 2] = 1.0
    return x


def delta_kernels(*scales: float) -> torch.Tensor:
    k = torch.zeros(len(scales), C, K, K)
    for n, s in enumerate(scales):
        k[n, 0, K // 2, K // 2] = s
    return k


def test_step_ranks_then_replaces_the_worst_slot_with_the_new_cell_state():
    u = RankingUpdater(SMALL, seed=0, device=CPU)
    ranking = Ranking(delta_kernels(1.0, 3.0, 2.0))
    h_prev = delta_kernels(0.5)
    xS = peaked_features()
    with torch.no_grad():
        h_t, info = u.step(ranking, h_prev, xS)
        # the same computation by hand
        c1st = delta_kernels(3.0)
        x_pre = u.prenet(c1st, xS)
        h_ref, c_ref = u.cell(h_prev, c1st, x_pre)
    assert info.rank.order.tolist() == [1, 2, 0]
    torch.testing.assert_close(info.x_pre, x_pre)
    torch.testing.assert_close(h_t, h_ref)
    torch.testing.assert_close(info.c_new, c_ref)
    torch.testing.assert_close(ranking.kernels[:2], delta_kernels(3.0, 2.0))  # best two kept
    torch.testing.assert_close(ranking.kernels[2:], c_ref)  # the worst (scale 1) replaced
    assert h_t.shape == (1, C, K, K)


def test_step_from_identical_copies_and_without_h_prev():
    u = RankingUpdater(SMALL, seed=0, device=CPU)
    h0 = delta_kernels(1.0) + 0.01
    ranking = Ranking.from_kernel(h0, 3)
    with torch.no_grad():
        h1, info = u.step(ranking, None, peaked_features())  # None: h_prev = c1st
        h_ref, c_ref = u.cell(h0, h0, u.prenet(h0, peaked_features()))
        torch.testing.assert_close(h1, h_ref)
        assert info.rank.order.tolist() == [0, 1, 2]  # ties: order kept
        torch.testing.assert_close(ranking.kernels[2:], c_ref)
        for _ in range(3):
            h1, info = u.step(ranking, h1, peaked_features())
    assert torch.isfinite(ranking.kernels).all() and torch.isfinite(h1).all()
    with pytest.raises(ValueError, match=rf"h_prev must be \(1, {C}, {K}, {K}\)"):
        u.step(ranking, delta_kernels(1.0, 1.0), peaked_features())


def test_single_slot_ranking_is_a_plain_convlstm():
    u = RankingUpdater(SMALL, seed=0, device=CPU)
    ranking = Ranking(delta_kernels(2.0))
    xS = peaked_features()
    with torch.no_grad():
        _, info = u.step(ranking, delta_kernels(2.0), xS)
    torch.testing.assert_close(ranking.kernels, info.c_new)


# ------------------------------------------------------------------------------- checkpoints


def test_checkpoint_round_trip(tmp_path):
    u = RankingUpdater(SMALL, seed=0, device=CPU)
    path = u.save(tmp_path / "updater.pt")
    back = RankingUpdater.load(path, device=CPU)
    assert back.config == u.config
    for (name, a), b in zip(u.state_dict().items(), back.state_dict().values(), strict=True):
        torch.testing.assert_close(b, a.half().float(), rtol=0, atol=0, msg=name)
    path32 = u.save(tmp_path / "updater32.pt", dtype=torch.float32)
    back32 = RankingUpdater.load(path32, device=CPU)
    for a, b in zip(u.parameters(), back32.parameters(), strict=True):
        assert torch.equal(a, b)
    (tmp_path / "bad.pt").write_bytes(b"")
    torch.save({"format": "other"}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="not a rankatt-ranking-updater checkpoint"):
        RankingUpdater.load(tmp_path / "bad.pt")


def test_default_updater_checkpoint_is_small(tmp_path):
    u = RankingUpdater(seed=0, device=CPU)
    counts = u.parameter_counts()
    assert counts == {"prenet": 328_256, "cell": 797_696, "total": 1_125_952}
    size = u.save(tmp_path / "updater.pt").stat().st_size  # fp16
    assert 2.2e6 < size < 2.4e6


# ------------------------------------------------------------------------------- GPU


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_per_frame_path_does_not_synchronise_on_cuda():
    from rankatt_lib.components.attention import apply_attention

    dev = torch.device("cuda")
    u = RankingUpdater(seed=0, device=dev)
    h0 = torch.rand(1, 512, 11, 11, device=dev) * 1e-4
    ranking = Ranking.from_kernel(h0, 3)
    xS, xL = torch.rand(1, 512, 31, 31, device=dev), torch.rand(3, 256, 63, 63, device=dev)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        with torch.inference_mode():
            h = h0
            for _ in range(3):
                h, info = u.step(ranking, h, xS)
                out = apply_attention(xL, attention_map(h, xS.expand(3, -1, -1, -1)))
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert out.shape == (3, 256, 63, 63) and info.rank.scores.device.type == "cuda"
