"""A deterministic synthetic tracking benchmark in the OTB format.

:func:`make_synthetic_benchmark` writes procedurally generated video sequences to disk in exactly
the layout of OTB (``SEQ/img/0001.jpg ...``, ``SEQ/groundtruth_rect.txt``, ``SEQ/attributes.txt``),
so that every tracker and every evaluation protocol of the library runs on them as on the real
benchmark, on a laptop, without downloading anything. There are two disjoint splits,
``test`` (20 sequences by default) and ``train`` (40), each sequence 60-150 frames of 320x240.

What a sequence looks like
    A procedural, textured background (multi-octave noise mapped through a colour palette, with
    foliage-like leaves, urban panels and stripes, pebbly terrain or wallpaper-and-floor interiors,
    under a global light gradient) seen by a slowly panning camera; a textured target (an ellipse,
    rounded rectangle or irregular blob carrying stripes, spots, checks, rings or camouflage
    patches, shading, an outline and sometimes "eyes") alpha-blended on it; sensor noise and JPEG
    compression on top.

What each attribute does (the OTB definitions, Wu et al. 2015)
    * ``IV``  global gain and colour-tint changes (slow fades, fast flashes) and a moving soft
      shadow / light spot.
    * ``SV``  the target's scale leaves ``[1/2, 2]`` times its first-frame size.
    * ``OCC`` 1-2 textured occluders (boxy panels or bush-like blobs) sweep across the target:
      partial and full occlusions, each temporary (fully hidden for 1-5 frames).
    * ``DEF`` non-rigid deformation: the aspect ratio breathes and a travelling sine warp bends
      the texture.
    * ``MB``  motion blur: the target layer is blurred along its velocity during fast segments, and
      the whole frame during camera shakes.
    * ``FM``  fast motion: bursts where the ground-truth centre moves more than 20 px per frame.
    * ``IPR`` in-plane rotation (rotations well beyond 90 degrees).
    * ``OPR`` out-of-plane rotation: the target turns about its vertical axis (horizontal squash)
      and shows its differently textured back side while turned away.
    * ``OV``  out of view: the target leaves the frame partly or fully and comes back.
    * ``BC``  background clutter: 2-4 moving distractors and static decoys of the target's own
      texture family (same shape, pattern kind and size, a slightly different hue or pattern), one
      of them circling the target and sometimes passing in front of it, and blotches of the
      target's colours in the background.
    * ``LR``  low resolution: the first-frame box has fewer than 400 pixels (14-20 px targets).

Each sequence is designed around 2-4 attributes; the tags written to ``attributes.txt`` are those
designed in plus those measured from the ground truth (``FM``, ``SV``, ``LR``, ``OV``, ``OCC``,
``MB`` with the OTB thresholds), so an attribute that happens incidentally is still tagged.

Ground truth
    The tight axis-aligned box of the target's (unoccluded, unblurred) alpha mask at 0.5, in OTB's
    1-based integer ``x,y,w,h`` convention (centre = x + (w-1)/2). During occlusions the box stays
    on the hidden target, as in OTB. When the target is partly out of view the box is clipped to
    the image. **When it is entirely out of view the row is ``0,0,0,0``** (the LaSOT convention for
    an absent target): every evaluation protocol of :mod:`rankatt_lib.evaluation.metrics` treats a row
    with a value ``<= 0`` as an invalid ground-truth frame. Frame 1 is always fully visible.

Determinism
    Everything is drawn from :class:`numpy.random.Generator` instances seeded by
    ``SeedSequence(seed, spawn_key=(split, index))``; nothing depends on time, hash seeds or
    thread count. The same seed gives byte-identical ground truth and identical frames (JPEG
    quality is fixed, :data:`JPEG_QUALITY`) with the same OpenCV build. The two splits use
    different spawn keys, so their sequences never coincide.
"""

from __future__ import annotations

from rankatt_lib.data.synthetic.benchmark import (
    add_generation_options,
    ensure_benchmark,
    main,
    make_synthetic_benchmark,
)
from rankatt_lib.data.synthetic.render import (
    SyntheticFrame,
    SyntheticSequence,
    iter_frames,
    render_sequence,
    write_sequence,
)
from rankatt_lib.data.synthetic.spec import (
    ATTRIBUTES,
    GENERATOR_VERSION,
    IMAGE_SIZE,
    JPEG_QUALITY,
    SequenceSpec,
    plan_benchmark,
)
from rankatt_lib.data.synthetic.textures import fractal_noise, make_background

__all__ = [
    'add_generation_options',
    'ATTRIBUTES',
    'GENERATOR_VERSION',
    'IMAGE_SIZE',
    'JPEG_QUALITY',
    'SequenceSpec',
    'fractal_noise',
    'make_background',
    'SyntheticFrame',
    'SyntheticSequence',
    'plan_benchmark',
    'iter_frames',
    'render_sequence',
    'write_sequence',
    'make_synthetic_benchmark',
    'ensure_benchmark',
    'main',
]
