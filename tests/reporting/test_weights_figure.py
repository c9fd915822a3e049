"""``bcl-rec weights``: the curves against spec 1.4's closed forms, and the command itself."""

from __future__ import annotations

import numpy as np
import pytest

from bcl_rec.cli.main import main
from bcl_rec.reporting.weights import WeightParams, closed_form_endpoints, weight_curves

SETS = [(0.5, 0.5, 0.05), (0.9, 0.5, 0.05), (0.9, 1.0, 0.05), (0.8, 0.7, 0.1), (0.99, 1.0, 0.0)]


def spec_endpoints(alpha, beta, tau_plus):
    """Spec 1.4, written out: omega(0), omega(1), and pi_TN = tau- p_tn / p_u at t = 0 and 1
    (p_tn(0) = 2 alpha, p_tn(1) = 2 (1 - alpha), p_fn the other way round)."""
    tau_minus = 1 - tau_plus
    z = alpha * (1 - beta) + (1 - alpha) * beta
    omega0 = alpha * (1 - beta) / (z * (alpha * tau_minus + (1 - alpha) * tau_plus))
    omega1 = (1 - alpha) * beta / (z * ((1 - alpha) * tau_minus + alpha * tau_plus))
    p_u0 = tau_minus * 2 * alpha + tau_plus * 2 * (1 - alpha)
    p_u1 = tau_minus * 2 * (1 - alpha) + tau_plus * 2 * alpha
    return omega0, omega1, tau_minus * 2 * alpha / p_u0, tau_minus * 2 * (1 - alpha) / p_u1


@pytest.mark.parametrize("alpha,beta,tau_plus", SETS)
def test_curve_endpoints_match_the_closed_forms(alpha, beta, tau_plus):
    params = WeightParams(alpha, beta, tau_plus)
    u, omega, pi_tn = weight_curves(params)
    want = spec_endpoints(alpha, beta, tau_plus)
    assert (u[0].item(), u[-1].item()) == (0.0, 1.0)
    got = (omega[0].item(), omega[-1].item(), pi_tn[0].item(), pi_tn[-1].item())
    assert got == pytest.approx(want, rel=1e-12, abs=1e-15)
    ends = closed_form_endpoints(params)
    assert (ends.omega0, ends.omega1, ends.pi_tn0, ends.pi_tn1) == pytest.approx(want, rel=1e-12)
    if alpha <= 0.9:  # near alpha = 1 omega is too peaked at u = 1 for a 501-point grid
        # E_u[omega] = 1 (u is uniform under p_u): the trapezoid rule on the grid comes close
        assert np.trapezoid(omega.numpy(), u.numpy()) == pytest.approx(1.0, abs=2e-3)


def test_spec_examples():
    """Spec 1.4's worked example: alpha 0.9, tau+ 0.05 gives pi_TN 0.994 -> 0.679."""
    ends = closed_form_endpoints(WeightParams(0.9, 1.0, 0.05))
    assert (round(ends.pi_tn0, 3), round(ends.pi_tn1, 3)) == (0.994, 0.679)
    assert closed_form_endpoints(WeightParams(0.99, 1.0, 0.0)).omega1 == pytest.approx(100.0)


def test_weights_command_draws_every_set(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="the figure needs the plots extra")
    out = tmp_path / "w.png"
    argv = ["weights", "--alpha", "0.5", "--alpha", "0.9", "--beta", "0.5", "--beta", "1.0",
            "--tau-plus", "0.05", "--set", "0.8,0.7,0.1", "--out", str(out)]
    assert main(argv) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == str(out)
    assert lines[2] == (
        "  α=0.9, β=1, τ+=0.05: omega 0.0000 -> 7.1429, pi_TN 0.9942 -> 0.6786 (u = 0 -> 1)"
    )
    assert len(lines) == 4


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--set", "0.9,1.0"], "--set '0.9,1.0': expected three numbers ALPHA,BETA,TAU_PLUS"),
        (["--alpha", "0.9", "--alpha", "0.8", "--beta", "1", "--beta", "1", "--beta", "1",
          "--tau-plus", "0.05"], "--beta is given 3 times for 2 --alpha values"),
        (["--set", "0.3,1.0,0.05"], "alpha must be in [0.5, 1), got 0.3"),
        ([], "no parameter set"),
    ],
)
def test_weights_command_errors(argv, message, tmp_path, capsys):
    assert main(["weights", *argv, "--out", str(tmp_path / "w.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"bcl-rec weights: error: {message}") and err.count("\n") == 1
