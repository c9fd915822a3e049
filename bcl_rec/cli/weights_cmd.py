"""``bcl-rec weights``: draw BCL's weight omega and posterior pi_TN against the score rank."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_weights_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``weights`` on ``sub`` (an argparse subparsers object)."""
    parser = sub.add_parser(
        "weights",
        help="plot BCL's importance weight and true-negative posterior against the rank",
        description="One figure, two panels: omega and pi_TN against u, the ECDF rank of an "
        "unlabeled item's score, for each parameter set. Give sets as repeated --alpha/--beta/"
        "--tau-plus (a single --tau-plus or --beta applies to every set) and/or --set "
        "ALPHA,BETA,TAU_PLUS. Needs the plots extra: pip install 'bcl-rec[plots]'.",
    )
    parser.add_argument("--alpha", type=float, action="append", default=[])
    parser.add_argument("--beta", type=float, action="append", default=[])
    parser.add_argument("--tau-plus", type=float, action="append", default=[])
    parser.add_argument("--set", action="append", default=[], metavar="A,B,T",
                        help='a parameter set "alpha,beta,tau_plus" (repeatable)')
    parser.add_argument("--out", type=Path, default=Path("bcl-weights.png"), metavar="FILE.png")
    parser.set_defaults(func=run_weights)
    return parser


def parameter_sets(args: argparse.Namespace) -> list[tuple[float, float, float]]:
    """``(alpha, beta, tau_plus)`` from the flags; a ``ValueError`` names the flag at fault."""
    sets = []
    if args.alpha or args.beta or args.tau_plus:
        n = len(args.alpha)
        if n == 0:
            raise ValueError("--beta/--tau-plus need --alpha (one per parameter set)")
        columns = {}
        for flag, values in (("--beta", args.beta), ("--tau-plus", args.tau_plus)):
            if len(values) == 1:
                values = values * n
            if len(values) != n:
                raise ValueError(f"{flag} is given {len(values)} times for {n} --alpha values; "
                                 "give it once (for every set) or once per --alpha")
            columns[flag] = values
        sets += list(zip(args.alpha, columns["--beta"], columns["--tau-plus"], strict=True))
    for text in args.set:
        parts = text.split(",")
        try:
            alpha, beta, tau_plus = (float(p) for p in parts)
        except ValueError:
            raise ValueError(f"--set {text!r}: expected three numbers ALPHA,BETA,TAU_PLUS, "
                             'e.g. --set "0.9,1.0,0.05"') from None
        sets.append((alpha, beta, tau_plus))
    if not sets:
        raise ValueError('no parameter set: give --alpha A --beta B --tau-plus T or --set "A,B,T"')
    return sets


def run_weights(args: argparse.Namespace) -> int:
    """Draw the figure and print its path with the endpoint values."""
    from bcl_rec.reporting.extras import MissingExtraError
    from bcl_rec.reporting.figures import weights_figure
    from bcl_rec.reporting.weights import WeightParams, closed_form_endpoints

    try:
        sets = [WeightParams(*s) for s in parameter_sets(args)]
        args.out.parent.mkdir(parents=True, exist_ok=True)
        path = weights_figure(sets, args.out)
    except (ValueError, MissingExtraError) as err:
        print(f"bcl-rec weights: error: {err}", file=sys.stderr)
        return 2
    print(path)
    for params in sets:
        e = closed_form_endpoints(params)
        print(f"  {params.label}: omega {e.omega0:.4f} -> {e.omega1:.4f}, "
              f"pi_TN {e.pi_tn0:.4f} -> {e.pi_tn1:.4f} (u = 0 -> 1)")
    return 0
