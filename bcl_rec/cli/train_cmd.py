"""``bcl-rec train``: a new run, or ``--resume DIR`` to continue a killed or interrupted one.

Exit codes: 0 done (or already complete), 1 diverged or a run file could not be written,
2 a usage error (bad config, refused folder or resume), 130 / 143 stopped by Ctrl-C / SIGTERM
after writing a checkpoint.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bcl_rec.config import ConfigError, RunConfig, config_location, dump_config, load_config
from bcl_rec.training.distributed import is_main_process

if TYPE_CHECKING:
    from bcl_rec.run_folder import RunFolder


def add_train_parser(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser("train", help="train a model from a config and test it")
    train.add_argument("--config", type=Path, help="YAML run config (default: MF + BCL on ml-100k)")
    train.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set loss.alpha=0.8 (repeatable)",
    )
    train.add_argument("--data-dir", type=Path, help="folder holding the dataset (or its parent)")
    train.add_argument("--out", type=Path, help="run folder (default: runs/<name>-<time>)")
    train.add_argument(
        "--overwrite", action="store_true", help="replace the run an existing --out folder holds"
    )
    train.add_argument(
        "--resume",
        type=Path,
        metavar="DIR",
        help="continue the run in DIR from its config.yaml and checkpoint "
        "(--set may change train.epochs and train.patience)",
    )
    train.add_argument(
        "--tensorboard",
        type=Path,
        metavar="DIR",
        help="write per-epoch TensorBoard scalars to DIR (sets train.tensorboard)",
    )
    train.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    from bcl_rec.run_folder import RunFolder, RunFolderError

    if args.tensorboard is not None:
        args.set = [*args.set, f"train.tensorboard={json.dumps(str(args.tensorboard))}"]
    try:
        if args.resume is not None:
            return _resume(args)
        config = load_config(args.config, args.set)
        if args.out is None:
            # under torchrun every rank must name the same folder: torchrun's run id, not the time
            stamp = os.environ.get("TORCHELASTIC_RUN_ID") or time.strftime("%Y%m%d-%H%M%S")
            name = f"{Path(str(config.data.name)).name}-{config.model.name}-{config.loss.name}"
            args.out = Path("runs") / f"{name}-{stamp}"
            if is_main_process():
                args.out = _fresh(args.out)
        folder = RunFolder(args.out)
        created = not folder.path.exists()
        if is_main_process():  # under torchrun only rank 0 writes files
            folder.prepare(overwrite=args.overwrite)
            folder.write_text("config.yaml", dump_config(config), durable=True)
    except RunFolderError as err:
        return _error(str(err), 2)
    try:
        return _train_located(config, folder, args, args.config, None)
    except Exception:
        # a bad setting found with the data, or data that would not load (a missing dataset, a
        # bad line): before any training step, leave no half-made run to block the same command
        if is_main_process() and not folder.checkpoint_path.exists():
            (folder.path / "config.yaml").unlink(missing_ok=True)
            if created:
                with contextlib.suppress(OSError):
                    folder.path.rmdir()
        raise


def _fresh(path: Path) -> Path:
    """``path``, or ``path-2``, ``path-3``... when runs started in the same second share a name."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def _resume(args: argparse.Namespace) -> int:
    from bcl_rec.run_folder import RunFolder
    from bcl_rec.training.resume import check_resume_config

    if args.config is not None or args.out is not None or args.overwrite:
        return _error(
            "--resume continues a run with its own config.yaml and folder: drop --config, --out "
            "and --overwrite (--set may change train.epochs and train.patience)",
            2,
        )
    folder = RunFolder(args.resume)
    config_file = folder.path / "config.yaml"
    if not config_file.is_file():
        return _error(f"--resume {folder.path}: not a run folder (no config.yaml)", 2)
    if folder.complete:
        _say(f"{folder.path} is already complete (metrics.json is written): nothing to resume")
        return 0
    config = load_config(config_file, args.set)
    checkpoint = folder.load_checkpoint()
    stored = checkpoint["config"] if checkpoint else load_config(config_file).to_dict()
    changed = check_resume_config(str(folder.path), stored, config.to_dict())
    if is_main_process():
        folder.probe()
        folder.remove_temporaries()
        if changed:
            folder.write_text("config.yaml", dump_config(config), durable=True)
    if checkpoint is None:
        _say(f"{folder.path} has no checkpoint yet: starting from epoch 1")
    return _train_located(config, folder, args, config_file, checkpoint)


def _train_located(
    config: RunConfig,
    folder: RunFolder,
    args: argparse.Namespace,
    config_file: Path | None,
    checkpoint: dict[str, Any] | None,
) -> int:
    """:func:`_train`; a config error found after loading (device, data size) names where the
    key was set (``--set`` or ``file:line``)."""
    try:
        return _train(config, folder, args.data_dir, checkpoint)
    except ConfigError as err:
        raise err.located(config_location(err.key, config_file, args.set)) from None


def _train(
    config: RunConfig,
    folder: RunFolder,
    data_dir: Path | None,
    checkpoint: dict[str, Any] | None,
) -> int:
    from bcl_rec.run_folder import RunFolderError
    from bcl_rec.training.distributed import shutdown
    from bcl_rec.training.interrupt import RunInterrupted, stop_on_signals
    from bcl_rec.training.run import train_run, write_run
    from bcl_rec.training.trainer import TrainingDiverged

    with stop_on_signals() as stop:
        try:
            result = train_run(
                config, data_dir, folder=folder, checkpoint=checkpoint, stop=stop, log=_say
            )
            write_run(result, folder)
        except RunInterrupted as err:
            try:
                folder.close()
            except RunFolderError as write_err:
                return _error(str(write_err), 1)
            where = f"epoch {err.epoch}, step {err.step}" if err.step else f"epoch {err.epoch}"
            if err.checkpointed:
                _say(f"interrupted at {where}: checkpoint written to {folder.checkpoint_path}")
            else:
                _say("interrupted before any training step: nothing to keep but config.yaml")
            _say(f"continue with: bcl-rec train --resume {folder.path}")
            return err.exit_code
        except TrainingDiverged as err:
            return _error(f"{err}; {_kept(folder)}", 1)
        except RunFolderError as err:
            return _error(str(err), 1)
        finally:
            with contextlib.suppress(RunFolderError):
                folder.close()
            shutdown()  # under torchrun: leave the process group
    if not is_main_process():
        return 0
    fit, cfg = result.fit, config.train
    if fit.epochs_run < cfg.epochs:
        _say(
            f"stopped at epoch {fit.epochs_run} (no better valid {config.eval.metric} in "
            f"{cfg.patience} epochs), best epoch {fit.best_epoch} restored"
        )
    else:
        _say(f"trained {fit.epochs_run} epochs, best epoch {fit.best_epoch} restored")
    test = {k: round(v, 4) for k, v in sorted(result.metrics["test"].items())}
    print(json.dumps({"out": str(folder.path), "test": test}, indent=2))
    return 0


def _kept(folder: RunFolder) -> str:
    """What a failed run leaves behind, for the error line."""
    from bcl_rec.run_folder import RunFolderError

    try:
        checkpoint = folder.load_checkpoint()
    except RunFolderError:
        checkpoint = None
    if checkpoint is None:
        return "no checkpoint had been written yet"
    best = checkpoint["best"]["epoch"]
    return (
        f"kept: the checkpoint of epoch {checkpoint['epoch']} with the best weights so far "
        f"(epoch {best}) in {folder.checkpoint_path}"
    )


def _say(line: str) -> None:
    if is_main_process():
        print(f"bcl-rec: {line}", file=sys.stderr, flush=True)


def _error(message: str, code: int) -> int:
    print(f"bcl-rec: error: {message}", file=sys.stderr, flush=True)
    return code
