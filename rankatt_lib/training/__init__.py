r"""Offline training of the ranking updater (PreNet + ConvLSTM) with Eq. 9, N = 1 (paper §2.1, §3.1).

The paper trains "the ranking network" offline on UAV123 + TC128 with the loss of Eq. 9 and the
ranking length set to N = 1, so that the ranking "degrades to a normal ConvLSTM": the only
kernel is both :math:`c^{(1st)}_t` and :math:`c^{(Nth)}_t`, and the new cell state replaces it.
This package holds the reusable parts; ``rankatt train`` (:mod:`rankatt_lib.training.cli`) is the command line.

Data: clips (:func:`select_clips`, :func:`clip_geometry`, :func:`cache_clip_features`)
-------------------------------------------------------------------------------------
A clip is ``T`` frames of one sequence, ``frame_step`` frames apart (``T = 8``, step 2 by
default), all with valid ground truth (rows with a value ``<= 0`` or NaN, e.g. the ``0,0,0,0`` of
an out-of-view target, are never used). ``clips_per_sequence`` windows are taken evenly spaced
over each sequence. Every frame is cropped *as a tracker would see it*: frame ``j > 0`` of the clip
is cropped around the ground-truth centre of the previous clip frame ``j - 1``, with the search
side ``search_area_factor x sqrt(w h)`` of that previous box (2.9, the geometry of
:class:`rankatt_lib.trackers.base.SearchGeometry`: the target is about 88 px = 11 cells in the
255 px patch); frame 0 (the initialisation) around its own box. The target's centre and size in
the patch are stored in conv4_3 cell coordinates (cell ``i`` centred on patch pixel ``8 i + 3.5``,
:func:`rankatt_lib.features.vgg16.cell_centre`), so the label :math:`y^S` can be rebuilt with any sigma
without recomputing features.

The frozen VGG16 runs once per frame: :func:`cache_clip_features` writes one file per clip
(``xS`` ``(T, 512, 31, 31)`` in float16, about 1 MB per frame) under a cache folder, atomically,
named by the clip and a hash of everything the features depend on; clips whose file exists are
skipped, so an interrupted caching run resumes. Training holds every clip's features in host
memory (:class:`PreparedClips`, float16) and moves one batch at a time to the device.

Model: :func:`unroll` (Eq. 6-9 with N = 1)
-----------------------------------------
For a batch of clips: :math:`h_0` = :func:`rankatt_lib.components.init_kernel.init_kernel` on frame 1 (the
same initialisation as the tracker; computed once per clip, no gradient), the ranking holds
:math:`c = h_0`; for ``t = 2..T``:

.. math::
    x^{pre}_t = \mathrm{PreNet}(c, x^S_t) \;(7), \qquad
    (h_t, c) = \mathrm{ConvLSTM}(h_{t-1}, c, x^{pre}_t) \;(6), \qquad
    \ell_t = L(h_t) \;(9)

— exactly :meth:`rankatt_lib.components.convlstm.RankingUpdater.step` with N = 1 (tested), batched over
clips (one kernel per sample; the correlations of Eq. 1/8/9 are
:func:`rankatt_lib.components.init_kernel.correlate`'s batched matrix products, 5-10x faster on a CPU than
``F.conv2d`` with one 11 x 11 x 512 filter). The loss of a clip is the mean of
:math:`\ell_2 .. \ell_T`; gradients flow back through time over the whole clip into PreNet and the
cell (:math:`h_0` is a constant).

Training: :func:`train`
-----------------------
Adam, gradient-norm clipping, epochs over the training clips in a seeded order (the order of
epoch ``e`` depends only on ``seed`` and ``e``, so a resumed run sees the same batches). The
objective is Eq. 9 times a constant ``loss_scale`` = 1 / (mean squared label over the training
clips) — the Eq. 9 value of the all-zero kernel — which leaves the minimiser unchanged and keeps
the gradients well above Adam's epsilon (raw Eq. 9 values are about 1e-3). Reported numbers are
raw Eq. 9 (``lam1`` = 1e-10) and the same relative to the zero kernel (``rel`` < 1 beats
predicting nothing).

Two options the command line turns on (off in :class:`TrainConfig` by default):
``reverse_augment`` plays each training clip backwards with probability 1/2 every epoch, starting
from :math:`h_0` fitted on its last frame (in a reversed clip each patch is centred on the
ground truth of the frame that now comes *next*, i.e. the displacement is reversed; the label
is still exactly where the target is), which doubles the distinct clips at no feature cost; and
``lr_schedule="cosine"`` decays the learning rate to 0 over the epochs (per step, from the
global step number, so a resumed run continues the same schedule as long as ``epochs`` is
unchanged).

Validation uses clips from held-out *sequences of the training data* (``val_fraction``, chosen by
``seed``); the test split is never read. Baselines on the same clips (:func:`evaluate`):

* ``zero``: :math:`h_t = 0` (the loss is the label's mean square);
* ``fixed``: :math:`h_t = h_0` — keep the frame-1 kernel, no update;
* ``untrained``: the updater at its initialisation (with the default gate biases a running
  average of the kernel with rate about 0.05 that also shrinks it by the output gate's 0.95, see
  :mod:`rankatt_lib.components.convlstm`; with forget/output biases +6 nearly the identity);
* ``refit`` (:func:`evaluate_refit`): :math:`h_t` = :func:`~rankatt_lib.components.init_kernel.init_kernel`
  on frame ``t - 1`` with *its ground-truth label* — an oracle the updater cannot match in
  principle (it never sees labels), a reference for what re-fitting on the latest frame gives.

After every epoch the full training state (model, optimizer, epoch, history, best model so far)
goes to one file, atomically; :func:`train` with ``resume=True`` continues from it.

What it gave on the synthetic training split (``results/training/``; 128 training clips from 32
sequences, 32 validation clips from 8 held-out sequences; Eq. 9 relative to the zero kernel):

* ``h0`` kept fixed: 0.352 train, 0.246 validation; re-fitting on frame ``t - 1`` with its label
  (oracle): 0.174 validation — updating can pay, if the update knows where the target is.
* Default gate biases (-3, +3, +3): the untrained updater is worse than no update (0.421 / 0.322:
  it shrinks and blurs the kernel); training reaches 0.282 train but only ties the fixed kernel
  on validation (0.247 at its best epoch): it learns an update that helps on hard clips and
  hurts on easy ones, and overfits 32 sequences.
* Forget and output biases +6 (near-identity start, 0.363 / 0.257 untrained): 0.307 train and
  0.239 validation at the best epoch (5 of 12), 3% below the fixed kernel
  (``checkpoints/ranking_synthetic_nonorm.pt``). Per update step it beats the fixed kernel at
  t = 3..7 and loses at t = 2 and 8; it is better on 16 of the 32 validation clips.
* The same with the new cell state rescaled to the input kernel's norm (``cell_norm="input"``,
  the shipped checkpoint ``checkpoints/ranking_synthetic.pt``): 0.361 / 0.255 untrained, 0.313
  train and 0.242 validation, 2% below the fixed kernel.

The gap to the oracle and the modest validation gain are the honest state of this reproduction on
40 synthetic sequences; the paper trains on UAV123 + TC128.

The package's modules:

* :mod:`~rankatt_lib.training.clips`: clips, their crops, the feature cache, the prepared tensors;
* :mod:`~rankatt_lib.training.unroll`: the updater unrolled with Eq. 9 as the loss, and its evaluation;
* :mod:`~rankatt_lib.training.loop`: the training loop and the frame-1 solver sweep;
* :mod:`~rankatt_lib.training.cli`: the command line ``rankatt train``.
"""

from __future__ import annotations

from rankatt_lib.training.clips import (
    CACHE_FORMAT,
    STATE_FORMAT,
    ClipConfig,
    ClipFeatures,
    ClipSpec,
    PreparedClips,
    cache_clip_features,
    cache_path,
    clip_geometry,
    load_clip,
    prepare_clips,
    select_clips,
    split_by_sequence,
    valid_box,
)
from rankatt_lib.training.loop import TrainConfig, TrainResult, train
from rankatt_lib.training.unroll import eq9_loss, evaluate, evaluate_refit, unroll, unroll_ranked, unroll_with_step

__all__ = [
    "CACHE_FORMAT",
    "STATE_FORMAT",
    "ClipConfig",
    "ClipFeatures",
    "ClipSpec",
    "PreparedClips",
    "TrainConfig",
    "TrainResult",
    "cache_clip_features",
    "cache_path",
    "clip_geometry",
    "eq9_loss",
    "evaluate",
    "evaluate_refit",
    "load_clip",
    "prepare_clips",
    "select_clips",
    "split_by_sequence",
    "train",
    "unroll",
    "unroll_ranked",
    "unroll_with_step",
    "valid_box",
]
