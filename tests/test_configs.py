"""make_config: the config dataclasses' groups, and the names an override may use."""

from __future__ import annotations

import pytest

from rankatt_lib.configs import config_fields, make_config, setting
from rankatt_lib.trackers.base import SearchConfig
from rankatt_lib.trackers.crest import CRESTConfig
from rankatt_lib.trackers.rankatt import RankingAttentionConfig


def test_plain_dotted_and_old_names_reach_the_same_field():
    by_plain = make_config(RankingAttentionConfig, None, {"T": 4, "precision": "bf16", "scales": (1.0, 0.9)})
    by_path = make_config(RankingAttentionConfig, None,
                          {"parts.T": 4, "execution.precision": "bf16", "search.scales": (1.0, 0.9)})
    assert by_plain == by_path
    assert by_plain.parts.T == 4 and by_plain.execution.precision == "bf16" and by_plain.search.scales == (1.0, 0.9)
    old = make_config(RankingAttentionConfig, None, {"part_grid": 2, "part_init_lr": 0.1})
    assert old.parts.grid == 2 and old.parts.init_lr == 0.1
    # the defaults of the other fields are kept, the group's own default included
    assert by_plain.search.scale_normalisation == "attention" and by_plain.parts.grid == 3


def test_a_whole_group_and_plain_names_on_top_of_it():
    cfg = make_config(CRESTConfig, None, {"search": SearchConfig(patch_size=127), "scales": (1.0,)})
    assert cfg.search.patch_size == 127 and cfg.search.scales == (1.0,)


def test_validation_runs_on_the_nested_group():
    with pytest.raises(ValueError, match="scales must be positive"):
        make_config(RankingAttentionConfig, None, {"scales": (1.0, -0.9)})
    with pytest.raises(ValueError, match="T must be >= 1|T"):
        make_config(RankingAttentionConfig, None, {"T": 0})


def test_unknown_and_ambiguous_names_are_refused_with_the_valid_ones():
    with pytest.raises(TypeError, match=r"unknown RankingAttentionConfig option 'tee'; valid: \[.*'parts.T'"):
        make_config(RankingAttentionConfig, None, {"tee": 4})
    with pytest.raises(TypeError, match="has no group 'nope'"):
        make_config(RankingAttentionConfig, None, {"nope.T": 4})
    # 'seed' is CREST's own field; the part tracker's seed is reached as parts.seed
    assert make_config(CRESTConfig, None, {"seed": 3}).seed == 3
    # update_min_peak is a field of CREST itself and of no group: plain name, no ambiguity
    assert make_config(CRESTConfig, None, {"update_min_peak": 0.2}).update_min_peak == 0.2


def test_config_fields_lists_every_setting_by_its_path():
    fields = config_fields(RankingAttentionConfig())
    assert fields["n_kernels"] == 3 and fields["parts.T"] == 12 and fields["search.patch_size"] == 255
    assert fields["execution.precision"] == "fp32" and "search" not in fields
    assert list(fields).index("cell_input") < list(fields).index("search.search_area_factor")


def test_a_plain_name_two_groups_have_must_be_dotted():
    import dataclasses

    @dataclasses.dataclass
    class A:
        x: int = 0

    @dataclasses.dataclass
    class B:
        x: int = 0

    @dataclasses.dataclass
    class Both:
        a: A = dataclasses.field(default_factory=A)
        b: B = dataclasses.field(default_factory=B)

    with pytest.raises(TypeError, match="option 'x' is ambiguous: say which with 'a.x' or 'b.x'"):
        make_config(Both, None, {"x": 1})
    assert make_config(Both, None, {"b.x": 1}).b.x == 1


def test_setting_reads_under_the_same_names():
    cfg = make_config(RankingAttentionConfig, None, {"T": 4})
    assert setting(cfg, "T") == setting(cfg, "parts.T") == 4 and setting(cfg, "part_grid") == 3
    assert setting(cfg, "n_kernels") == 3 and setting(cfg, "scale_normalisation") == "attention"


def test_a_group_read_back_as_a_dict_becomes_the_group_and_anything_else_is_refused():
    cfg = CRESTConfig(search={"patch_size": 127})
    assert isinstance(cfg.search, SearchConfig) and cfg.search.patch_size == 127
    with pytest.raises(TypeError, match="parts must be a PartTrackerConfig, got int"):
        RankingAttentionConfig(parts=3)
