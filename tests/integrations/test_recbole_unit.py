"""Adapter pieces that need no training: layout, settings, overrides, compat, checkpoints."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import torch

pytest.importorskip("recbole")

from bcl_rec.integrations.recbole import compat  # noqa: E402
from bcl_rec.integrations.recbole.checkpoint import (  # noqa: E402
    CheckpointError,
    load_checkpoint,
    restore_config,
    save_checkpoint,
)
from bcl_rec.integrations.recbole.layout import pairwise_rows  # noqa: E402
from bcl_rec.integrations.recbole.overrides import apply_overrides, parse_value  # noqa: E402
from bcl_rec.integrations.recbole.settings import loss_config  # noqa: E402


class TestLayout:
    def test_blocks_become_rows(self):
        b, n = 4, 3
        users = torch.tensor([10, 11, 12, 13]).repeat(n)
        items = torch.tensor([1, 2, 3, 4]).repeat(n)
        negs = torch.arange(b * n) + 100  # row j*B+i holds negative j of positive i
        u, p, neg = pairwise_rows(users, items, negs, n)
        assert u.tolist() == [10, 11, 12, 13] and p.tolist() == [1, 2, 3, 4]
        assert neg.shape == (b, n)
        assert neg[1].tolist() == [101, 105, 109]  # positive 1: rows 1, 5, 9

    def test_refuses_rows_that_are_not_blocks(self):
        users = torch.tensor([1, 2, 3, 4, 5, 6])
        with pytest.raises(ValueError, match="not laid out"):
            pairwise_rows(users, users, users, 2)
        with pytest.raises(ValueError, match="cannot hold 4"):
            pairwise_rows(users, users, users, 4)


class TestSettings:
    def test_n_comes_from_recbole(self):
        cfg = loss_config({"loss": {"name": "bcl", "alpha": 0.8}}, 7)
        assert cfg.num_negatives == 7 and cfg.alpha == 0.8

    def test_loss_name_shorthand(self):
        assert loss_config({"loss": "bpr"}, 1).name == "bpr"

    def test_disagreeing_n_is_an_error(self):
        with pytest.raises(ValueError, match="sample_num = 5"):
            loss_config({"loss": {"num_negatives": 10}}, 5)

    def test_adaptive_alpha_is_refused(self):
        with pytest.raises(ValueError, match="constant numeric loss.alpha"):
            loss_config({"loss": {"alpha": "auto"}}, 5)


class TestOverrides:
    def test_dotted_keys_keep_the_rest_of_the_file(self, tmp_path):
        path = tmp_path / "c.yaml"
        path.write_text("loss: {name: bcl, alpha: 0.9}\nlearning_rate: 1e-3\n")
        out = apply_overrides({}, [path], ["loss.alpha=0.8", "seed=3", "train_neg_sample_args."
                                           "sample_num=2"])
        assert out == {
            "loss": {"name": "bcl", "alpha": 0.8},
            "seed": 3,
            "train_neg_sample_args": {"sample_num": 2},
        }

    def test_values_parse_as_recbole_does(self):
        assert parse_value("1e-3") == 0.001 and parse_value("[10, 20]") == [10, 20]
        assert parse_value("") is None and parse_value("null") is None
        # a separator of spaces or tabs (field_separator=' ' in a shell) is kept, not null
        assert parse_value(" ") == " " and parse_value("\t") == "\t"
        assert apply_overrides({}, [], ["field_separator= "]) == {"field_separator": " "}
        with pytest.raises(ValueError, match="key=value"):
            apply_overrides({}, [], ["novalue"])


class TestCompat:
    def test_numpy_itself_is_untouched(self):
        import recbole.evaluator.metrics as metrics

        assert metrics.np.float is np.float64
        assert not hasattr(np, "float")

    def test_fill_nan_fills_under_copy_on_write(self):
        from recbole.utils import FeatureType

        class Holder:
            feat_name_list = ["inter_feat"]
            field2type = {"a": FeatureType.TOKEN, "b": FeatureType.FLOAT}
            inter_feat = pd.DataFrame({"a": [1.0, None], "b": [1.0, None]})

        holder = Holder()
        compat.fill_nan(holder)
        assert holder.inter_feat["a"].tolist() == [1.0, 0.0]
        assert holder.inter_feat["b"].tolist() == [1.0, 1.0]

    def test_empty_sequence_fields_read_as_empty_strings(self, tmp_path):
        path = tmp_path / "x.item"
        path.write_text("item_id:token\tgenre:token_seq\n1\ta b\n2\t\n")
        frame = compat.read_csv_filling_seq(path, delimiter="\t", dtype=str)
        assert frame["genre:token_seq"].tolist() == ["a b", ""]
        assert frame["item_id:token"].tolist() == ["1", "2"]


class _Evil:
    def __reduce__(self):
        return (print, ("executed",))


class TestCheckpoint:
    def test_round_trip_keeps_config_and_weights(self, tmp_path):
        from recbole.utils import InputType, ModelType

        config = restore_config({"final_config_dict": {
            "model": "BCLMF", "device": torch.device("cpu"), "MODEL_TYPE": ModelType.GENERAL,
            "MODEL_INPUT_TYPE": InputType.PAIRWISE}})
        state = {"config": config, "best_valid_score": np.float64(0.5),
                 "state_dict": {"w": torch.ones(2)}}
        save_checkpoint(state, tmp_path / "c.pth")
        loaded = load_checkpoint(tmp_path / "c.pth")
        assert loaded["config"]["MODEL_TYPE"] is ModelType.GENERAL
        assert loaded["config"]["model"] == "BCLMF"
        assert loaded["best_valid_score"] == 0.5 and type(loaded["best_valid_score"]) is float
        assert torch.equal(loaded["state_dict"]["w"], torch.ones(2))

    def test_recbole_pickles_are_refused_unless_trusted(self, tmp_path):
        path = tmp_path / "recbole.pth"
        torch.save({"state_dict": {}, "obj": pd.Timestamp(0)}, path, pickle_protocol=4)
        with pytest.raises(CheckpointError, match="trusted=True"):
            load_checkpoint(path)
        assert "obj" in load_checkpoint(path, trusted=True)

    def test_code_in_a_checkpoint_never_runs(self, tmp_path, capsys):
        path = tmp_path / "evil.pth"
        torch.save({"x": _Evil()}, path, pickle_protocol=2)
        with pytest.raises(CheckpointError):
            load_checkpoint(path)
        assert "executed" not in capsys.readouterr().out
        assert pickle.HIGHEST_PROTOCOL >= 2


def test_item_features_load_under_pandas_3(tmp_path):
    """Empty token_seq and float fields: read, remapped per row and filled, as RecBole intends."""
    from recbole.data import create_dataset

    from bcl_rec.integrations.recbole import ExplicitConfig

    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "tiny.inter").write_text(
        "user_id:token\titem_id:token\ttimestamp:float\n1\t1\t1\n1\t2\t2\n2\t1\t3\n2\t3\t4\n"
    )
    (folder / "tiny.item").write_text(
        "item_id:token\tgenre:token_seq\tprice:float\n1\ta b\t1.0\n2\t\t\n3\tc\t3.0\n"
    )
    config = ExplicitConfig(
        model="BPR",
        dataset="tiny",
        config_dict={
            "data_path": str(tmp_path),
            "gpu_id": "",
            "load_col": {"inter": ["user_id", "item_id", "timestamp"],
                         "item": ["item_id", "genre", "price"]},
        },
    )
    items = create_dataset(config).item_feat
    genres = [list(row) for row in items["genre"]]
    assert [g for g in genres if g] == [[1, 2], [3]] and genres.count([]) == 2
    assert sorted(items["price"].tolist()) == [1.0, 2.0, 2.0, 3.0]  # NaN -> mean of 1 and 3


def test_recbole_set_parses_values_as_train_does() -> None:
    """One ``--set`` parser: RecBole's overrides and a run config read a value alike."""
    from bcl_rec.config import load_config

    for text, expected in [("1e-3", 0.001), ("0.5", 0.5), ("12", 12), ("true", True)]:
        assert apply_overrides({}, None, [f"learning_rate={text}"])["learning_rate"] == expected
    config = load_config(None, ["train.lr=1e-3", "train.weight_decay=1e-6"])
    recbole = apply_overrides({}, None, ["lr=1e-3", "wd=1e-6"])
    assert (config.train.lr, config.train.weight_decay) == (recbole["lr"], recbole["wd"])
    with pytest.raises(ValueError, match=r"^--set expects key=value or key\.sub=value, got 'x'$"):
        apply_overrides({}, None, ["x"])
