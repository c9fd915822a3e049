"""Every bad input gets one clear line: the CLI's answer to bad flags, configs, data, run folders.

Each row is a test below: ``main()`` runs in-process, stderr must be exactly the line shown (key
parts asserted) with no traceback, and the exit status 2 (warnings: the run goes on, status 0).
``<tiny>`` is a small synthetic log (30 users, 39 items); ``<run>`` a run folder trained on it.

=====================================  ===========================================================
Input                                  What the user sees (stderr)
=====================================  ===========================================================
``--set train.lr=abc``                 ``--set train.lr=abc: train.lr must be a finite number,
                                       got 'abc'``
``--set train.epochs=1.5``             ``--set train.epochs=1.5: train.epochs must be an integer,
                                       got 1.5``
``--set train.lr=.nan``                ``... train.lr must be a finite number, got nan``
``--set train.batch_size=0``           ``... train.batch_size: must be >= 1, got 0``
``--set train.progress=maybe``         ``... train.progress must be true or false, got 'maybe'``
``--set train.seed=-3``                ``... train.seed: must be an integer in [0, 2**63), got -3``
``--set loss.alpah=0.7``               ``... unknown key loss.alpah (did you mean loss.alpha?);
                                       valid keys: ...``
``--set trian.lr=0.1``                 ``--set trian.lr: unknown section 'trian' (did you mean
                                       'train'?); valid sections: ...``
``--set lossalpha=0.7``                ``--set expects section.key=value, got 'lossalpha=0.7'``
``--set "loss.alpha=[0.7"``            ``--set loss.alpha=[0.7: not valid YAML: ...``
``--set loss.alpha=1.2``               ``... loss.alpha must be a number in [0.5, 1) or 'auto',
                                       got 1.2``
``--set loss.alpha=automatic``         ``... loss.alpha must be a number in [0.5, 1) or 'auto',
                                       got 'automatic'``
``--set loss.name=bprr``               ``... loss.name must be one of bcl, ...; got 'bprr'``
``--set loss.name=dpl`` (no extras)    ``... loss.num_extras must be >= 1 for loss.name='dpl' ...``
``--set model.name=gcn``               ``... model.name: unknown model 'gcn'; valid names: ...``
``--set model.layer_weights=[1,2]``    ``... model.layer_weights: needs layers + 1 = 3 values,
                                       got 2``
``--set data.seed=-1``                 ``... data.seed: must be an integer in [0, 2**63), got -1``
``--set eval.metric=ndcg@20``          ``... eval.metric: ndcg@20 needs K=20 in eval.topk [5, 10];
                                       add 20 to eval.topk or pick a K from it``
``--set eval.metric=hit@10``           ``... eval.metric: must be recall@K, ndcg@K or mrr@K, got
                                       'hit@10'``
``--set train.device=cuda`` (no GPU)   ``--set train.device=cuda: train.device='cuda' but torch
                                       sees no CUDA device (...); use cpu or auto``
``--set train.device=tpu``             ``... train.device: must be auto, cpu or cuda, got 'tpu'``
``--set eval.topk=[5,10,500]``         ``--set eval.topk=[5,10,500]: eval.topk: K=500 is larger
                                       than the 39 items of the data; use cut-offs <= 39``
``--set model.dim=1e12``               ``... model.dim: 1000000000000 needs ... GiB for the
                                       embeddings of 30 users and 39 items, more than ...``
``--set eval.max_memory_mb=1e-9``      ``... eval.max_memory_mb=1e-09 is too small for 39 items:
                                       ...``
``--set loss.name=bpr``                ``bcl-rec: warning: --set loss.alpha=0.7: loss.alpha has no
``--set loss.alpha=0.7``               effect with loss.name=bpr; remove it or pick a loss that
                                       uses it`` (trains)
``--config missing.yaml``              ``config file not found: missing.yaml``
``--config`` malformed YAML            ``c.yaml:3: not valid YAML: expected <block end>, but found
                                       ...``
``--config`` ``alpha: 1.5`` on line 3  ``c.yaml:3: loss.alpha must be a number in [0.5, 1) ...``
``--config`` ``epoch: 3`` on line 2    ``c.yaml:2: unknown key train.epoch (did you mean
                                       train.epochs?); valid keys: ...``
``--config`` ``lr: fast`` on line 3   ``c.yaml:3: train.lr must be a finite number, got 'fast'``
``--config`` a YAML list               ``c.yaml:1: a config must be a mapping of sections, got
                                       list``
``--config`` ``train: 5``              ``c.yaml:1: section 'train' must be a mapping of keys, got
                                       5``
``--config`` ``lr: 1e-3`` (YAML 1.2)   accepted: ``train.lr == 0.001``
data file with a bad line              ``<tiny>, line 5: ...`` (file and line named)
``--set data.name=no-such-dataset``    ``data.name 'no-such-dataset' is neither a registered
                                       dataset (...) nor an existing file or folder``
``--set data.name=ml100k``             ``data.name 'ml100k' (did you mean 'ml-100k'?) is neither a
                                       registered dataset (...) nor ...``
``--set data.format=jsonl`` on a csv   ``<tiny>, line 1: not valid JSON (...)``
``evaluate --run`` a missing folder    ``run folder not found: ...``
``evaluate --run`` not a run folder    ``... is not a complete run folder: config.yaml is
                                       missing``
``evaluate``, corrupt ``model.pt``     ``<run>/model.pt is not a bcl-rec model file (corrupt or
                                       truncated): retrain or point --run at another run folder``
``evaluate``, truncated ``model.pt``   (the same line)
``evaluate``, broken ``config.yaml``   ``<run>/config.yaml:4: model.dim must be an integer, got
                                       'big'``
``evaluate --device cuda`` (no GPU)    ``--device='cuda' but torch sees no CUDA device (...)``
``evaluate --topk 0``                  ``--topk values must be positive integers``
``evaluate --users-per-batch 0``       ``--users-per-batch must be a positive integer``
``evaluate --max-memory-mb nan``       ``--max-memory-mb must be a number > 0``
``recommend --user nobody``            ``unknown user id 'nobody': not in the data of run ...``
``recommend -k 0``                     ``-k must be a positive integer``
``recommend ... | head -n 0``          nothing on stderr, exit 0
=====================================  ===========================================================
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import write_log

from bcl_rec.cli.main import main
from bcl_rec.config import load_config

CUDA = torch.cuda.is_available()


def tiny_args(log: Path) -> list[str]:
    """``--set`` flags for a quick run on ``log``."""
    sets = [
        f"data.name={log}", "data.user_col=user", "data.item_col=item", "model.dim=4",
        "train.epochs=1", "train.batch_size=64", "train.progress=false", "train.device=cpu",
        "loss.num_negatives=3", "eval.topk=[5,10]",
    ]
    return [arg for s in sets for arg in ("--set", s)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad-inputs")
    mp = pytest.MonkeyPatch()
    mp.setenv("BCL_REC_CACHE", str(root / "cache"))
    log = write_log(root / "log.csv")
    run = root / "run"
    assert main(["train", *tiny_args(log), "--out", str(run)]) == 0
    yield log, run
    mp.undo()


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def assert_one_error(code: int, err: str, *parts: str) -> str:
    """Exit 2, stderr exactly one ``bcl-rec: error:`` line containing ``parts``, no traceback."""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    errors = [line for line in lines if not line.startswith("bcl-rec: warning:")]
    assert code == 2, err
    assert len(errors) == 1, err
    line = errors[0]
    assert line.startswith("bcl-rec: error: "), line
    for part in parts:
        assert part in line, (part, line)
    return line


# --- CLI flags: --set ---------------------------------------------------------------------------

SET_CASES = [
    ("train.lr=abc", ["--set train.lr=abc: train.lr must be a finite number, got 'abc'"]),
    ("train.epochs=1.5", ["--set train.epochs=1.5: train.epochs must be an integer, got 1.5"]),
    ("train.lr=.nan", ["--set train.lr=.nan: train.lr must be a finite number, got nan"]),
    ("train.batch_size=0", ["train.batch_size: must be >= 1, got 0"]),
    ("train.progress=maybe", ["train.progress must be true or false, got 'maybe'"]),
    ("train.seed=-3", ["train.seed: must be an integer in [0, 2**63), got -3"]),
    ("loss.alpah=0.7", ["--set loss.alpah=0.7: unknown key loss.alpah",
                        "(did you mean loss.alpha?)", "valid keys: loss.alpha,"]),
    ("trian.lr=0.1", ["--set trian.lr: unknown section 'trian' (did you mean 'train'?)"]),
    ("lossalpha=0.7", ["--set expects section.key=value, got 'lossalpha=0.7'"]),
    ("loss.alpha=[0.7", ["--set loss.alpha=[0.7: not valid YAML:"]),
    ("loss.alpha=1.2", ["loss.alpha must be a number in [0.5, 1) or 'auto', got 1.2"]),
    ("loss.alpha=automatic",
     ["loss.alpha must be a number in [0.5, 1) or 'auto', got 'automatic'"]),
    ("loss.name=bprr", ["loss.name must be one of bcl, bcl-nce, bpr,", "got 'bprr'"]),
    ("loss.name=dpl", ["loss.num_extras must be >= 1 for loss.name='dpl'"]),
    ("model.name=gcn", ["model.name: unknown model 'gcn'; valid names: mf, lightgcn"]),
    ("model.layer_weights=[1,2]", ["model.layer_weights: needs layers + 1 = 3 values, got 2"]),
    ("data.seed=-1", ["data.seed: must be an integer in [0, 2**63), got -1"]),
    ("eval.metric=ndcg@20", ["eval.metric: ndcg@20 needs K=20 in eval.topk [5, 10]; "
                             "add 20 to eval.topk or pick a K from it"]),
    ("eval.metric=hit@10", ["eval.metric: must be recall@K, ndcg@K or mrr@K, got 'hit@10'"]),
    ("train.device=tpu", ["train.device: must be auto, cpu or cuda, got 'tpu'"]),
    ("eval.topk=[5,10,500]", ["--set eval.topk=[5,10,500]: eval.topk: K=500 is larger than the "
                              "39 items of the data; use cut-offs <= 39"]),
    ("model.dim=1e12", ["--set model.dim=1e12: model.dim: 1000000000000 needs",
                        "for the embeddings of 30 users and 39 items, more than this machine's"]),
    ("eval.max_memory_mb=1e-9", ["eval.max_memory_mb=1e-09 is too small for 39 items"]),
]


@pytest.mark.parametrize("setting, parts", SET_CASES, ids=[c[0] for c in SET_CASES])
def test_bad_set_value_is_one_line_naming_the_key(tiny, capsys, tmp_path, setting, parts):
    log, _ = tiny
    code, out, err = cli(capsys, "train", *tiny_args(log), "--set", setting,
                         "--out", tmp_path / "run")
    assert_one_error(code, err, *parts)
    assert not (tmp_path / "run").exists()  # nothing trained, nothing written


@pytest.mark.skipif(CUDA, reason="needs a machine without CUDA")
def test_absent_cuda_device_is_an_error_and_auto_a_warning(tiny, capsys, tmp_path):
    log, _ = tiny
    code, _, err = cli(capsys, "train", *tiny_args(log), "--set", "train.device=cuda")
    assert_one_error(code, err, "--set train.device=cuda: train.device='cuda' but torch sees "
                     "no CUDA device", "use cpu or auto")
    code, _, err = cli(capsys, "train", *tiny_args(log), "--set", "train.device=auto",
                       "--out", tmp_path / "run")
    assert code == 0 and "Traceback" not in err
    assert ("bcl-rec: warning: train.device=auto: torch sees no CUDA device, training on the CPU"
            in err.splitlines())


def test_a_key_the_loss_ignores_is_a_warning_and_the_run_goes_on(tiny, capsys, tmp_path):
    log, _ = tiny
    code, _, err = cli(capsys, "train", *tiny_args(log), "--set", "loss.name=bpr",
                       "--set", "loss.alpha=0.7", "--set", "loss.ecdf=max",
                       "--out", tmp_path / "run")
    assert code == 0 and "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if "warning" in line]
    assert lines == [
        "bcl-rec: warning: --set loss.alpha=0.7: loss.alpha has no effect with loss.name=bpr; "
        "remove it or pick a loss that uses it",
        "bcl-rec: warning: --set loss.ecdf=max: loss.ecdf has no effect with loss.name=bpr; "
        "remove it or pick a loss that uses it",
    ]
    # the same keys with BCL, and the shipped configs, warn about nothing
    code, _, err = cli(capsys, "train", *tiny_args(log), "--set", "loss.alpha=0.7",
                       "--out", tmp_path / "run2")
    assert code == 0 and "warning" not in err


def test_the_shipped_configs_give_no_warning(recwarn):
    for path in sorted((Path(__file__).parents[2] / "configs").rglob("*.yaml")):
        if "recbole" in path.parts:
            continue
        load_config(path)
    assert [str(w.message) for w in recwarn] == []


# --- config files -------------------------------------------------------------------------------

FILE_CASES = [
    ("malformed", "train:\n  lr: 0.1\n bad: [1\n", ["c.yaml:3: not valid YAML:"]),
    ("out-of-range", "loss:\n  name: bcl\n  alpha: 1.5\n",
     ["c.yaml:3: loss.alpha must be a number in [0.5, 1) or 'auto', got 1.5"]),
    ("unknown-key", "train:\n  epoch: 3\n",
     ["c.yaml:2: unknown key train.epoch (did you mean train.epochs?); valid keys:"]),
    ("a-list", "- train\n- loss\n", ["c.yaml:1: a config must be a mapping of sections, got list"]),
    ("section-not-mapping", "train: 5\n", ["c.yaml:1: section 'train' must be a mapping of keys, "
                                           "got 5"]),
    ("wrong-type", "train:\n  patience: 3\n  lr: fast\n",
     ["c.yaml:3: train.lr must be a finite number, got 'fast'"]),
]


@pytest.mark.parametrize("name, text, parts", FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_bad_config_file_names_file_and_line(tiny, capsys, tmp_path, name, text, parts):
    log, _ = tiny
    config = tmp_path / "c.yaml"
    config.write_text(text)
    code, _, err = cli(capsys, "train", "--config", config, *tiny_args(log))
    line = assert_one_error(code, err, *parts)
    assert f"{config}:" in line


def test_missing_config_file(capsys, tmp_path):
    code, _, err = cli(capsys, "train", "--config", tmp_path / "missing.yaml")
    assert_one_error(code, err, f"config file not found: {tmp_path / 'missing.yaml'}")


def test_yaml_12_numbers_in_files_and_overrides(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("train:\n  lr: 1e-3\n  weight_decay: 1E-5\n  epochs: 1e2\nmodel:\n"
                      "  init_std: .5\nloss:\n  temperature: +2e0\n")
    cfg = load_config(config, ["eval.max_memory_mb=1e+2"])
    assert cfg.eval.max_memory_mb == 100.0
    assert cfg.train.lr == 0.001 and cfg.train.weight_decay == 1e-5 and cfg.train.epochs == 100
    assert isinstance(cfg.train.epochs, int)
    assert cfg.model.init_std == 0.5 and cfg.loss.temperature == 2.0
    assert load_config(None, ["train.lr=1e-3", "loss.alpha=.75"]).train.lr == 0.001
    with pytest.raises(ValueError, match=r"eval\.max_memory_mb: must be > 0, got -100\.0"):
        load_config(None, ["eval.max_memory_mb=-1e+2"])


# --- data files and datasets --------------------------------------------------------------------


def test_data_file_with_a_bad_line_names_file_and_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("BCL_REC_CACHE", str(tmp_path / "cache"))
    log = write_log(tmp_path / "log.csv")
    lines = log.read_text().splitlines()
    lines[4] = "u0,i1,3"  # line 5: a field short
    log.write_text("\n".join(lines) + "\n")
    code, _, err = cli(capsys, "train", *tiny_args(log))
    assert_one_error(code, err, f"{log}, line 5")


def test_missing_dataset(capsys):
    code, _, err = cli(capsys, "train", "--set", "data.name=no-such-dataset")
    assert_one_error(code, err, "data.name 'no-such-dataset' is neither a registered dataset (",
                     "nor an existing file or folder")
    code, _, err = cli(capsys, "train", "--set", "data.name=ml100k")
    assert_one_error(code, err, "data.name 'ml100k' (did you mean 'ml-100k'?) is neither a "
                     "registered dataset (")


def test_wrong_format_names_the_file(tiny, capsys, tmp_path):
    log, _ = tiny
    code, _, err = cli(capsys, "train", *tiny_args(log), "--set", "data.format=jsonl",
                       "--out", tmp_path / "run")
    assert_one_error(code, err, f"{log}, line 1: not valid JSON")
    assert not (tmp_path / "run").exists()  # nothing trained, nothing written


def test_data_that_would_not_load_leaves_no_run_so_the_same_command_works_once_fixed(
    capsys, tmp_path, monkeypatch
):
    monkeypatch.setenv("BCL_REC_CACHE", str(tmp_path / "cache"))
    log = write_log(tmp_path / "log.csv")
    good = log.read_text()
    log.write_text(good.replace("\n", "\nbroken\n", 1))
    args = ("train", *tiny_args(log), "--out", tmp_path / "run")
    code, _, err = cli(capsys, *args)
    assert_one_error(code, err, f"{log}, line 2")
    assert not (tmp_path / "run").exists()
    log.write_text(good)
    code, _, err = cli(capsys, *args)
    assert code == 0, err
    assert (tmp_path / "run" / "metrics.json").exists()


# --- run folders: evaluate and recommend --------------------------------------------------------


def copy_run(run: Path, to: Path) -> Path:
    to.mkdir()
    for name in ("config.yaml", "model.pt"):
        (to / name).write_bytes((run / name).read_bytes())
    return to


def test_evaluate_a_missing_folder_and_a_folder_that_is_not_a_run(capsys, tmp_path):
    code, _, err = cli(capsys, "evaluate", "--run", tmp_path / "missing")
    assert_one_error(code, err, f"run folder not found: {tmp_path / 'missing'}")
    code, _, err = cli(capsys, "evaluate", "--run", tmp_path)
    assert_one_error(code, err, f"{tmp_path} is not a complete run folder: config.yaml is missing")


@pytest.mark.parametrize("damage", ["corrupt", "truncated", "empty"])
def test_evaluate_a_broken_model_file(tiny, capsys, tmp_path, damage):
    _, run = tiny
    bad = copy_run(run, tmp_path / "bad")
    data = (run / "model.pt").read_bytes()
    damaged = {
        "corrupt": np.random.default_rng(0).bytes(len(data)),
        "truncated": data[: len(data) // 2],
        "empty": b"",
    }[damage]
    (bad / "model.pt").write_bytes(damaged)
    code, _, err = cli(capsys, "evaluate", "--run", bad)
    assert_one_error(code, err, f"{bad / 'model.pt'} is not a bcl-rec model file (corrupt or "
                     "truncated): retrain or point --run at another run folder")
    assert "weights_only" not in err


def test_evaluate_a_broken_config_names_its_line(tiny, capsys, tmp_path):
    _, run = tiny
    bad = copy_run(run, tmp_path / "bad")
    text = (bad / "config.yaml").read_text().replace("  dim: 4\n", "  dim: big\n")
    (bad / "config.yaml").write_text(text)
    line_no = text.splitlines().index("  dim: big") + 1
    code, _, err = cli(capsys, "evaluate", "--run", bad)
    assert_one_error(code, err, f"{bad / 'config.yaml'}:{line_no}: model.dim must be an integer, "
                     "got 'big'")


@pytest.mark.skipif(CUDA, reason="needs a machine without CUDA")
def test_evaluate_on_an_absent_gpu(tiny, capsys):
    _, run = tiny
    code, _, err = cli(capsys, "evaluate", "--run", run, "--device", "cuda")
    assert_one_error(code, err, "--device='cuda' but torch sees no CUDA device")


def test_bad_evaluate_and_recommend_flags(tiny, capsys):
    _, run = tiny
    code, _, err = cli(capsys, "evaluate", "--run", run, "--topk", "0")
    assert_one_error(code, err, "--topk values must be positive integers")
    code, _, err = cli(capsys, "evaluate", "--run", run, "--users-per-batch", "0")
    assert_one_error(code, err, "--users-per-batch must be a positive integer")
    code, _, err = cli(capsys, "evaluate", "--run", run, "--max-memory-mb", "nan")
    assert_one_error(code, err, "--max-memory-mb must be a number > 0")
    code, _, err = cli(capsys, "recommend", "--run", run, "--user", "nobody")
    assert_one_error(code, err, "unknown user id 'nobody': not in the data of run")
    code, _, err = cli(capsys, "recommend", "--run", run, "--user", "u1", "-k", "0")
    assert_one_error(code, err, "-k must be a positive integer")


def test_recommend_into_a_closed_pipe_exits_quietly(tiny):
    """``bcl-rec recommend ... | head -n 0``: no BrokenPipeError traceback, status 0.

    ``head -n 0`` exits without reading, so the first write meets a closed pipe (``head -1``
    would read a few short lines from the pipe buffer before the pipe closes).
    """
    _, run = tiny
    script = (
        "import sys; from bcl_rec.cli.main import main; "
        f"sys.exit(main(['recommend', '--run', {str(run)!r}, '--user', 'u1', '-k', '30']))"
    )
    proc = subprocess.run(
        f"{sys.executable} -c \"{script}\" | head -n 0; exit ${{PIPESTATUS[0]}}",
        shell=True, executable="/bin/bash", capture_output=True, text=True, timeout=120,
    )
    assert proc.stdout == "" and proc.stderr == "" and proc.returncode == 0
