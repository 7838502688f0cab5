"""Column generation accuracy: the final polish over both sides of a cycle (issue 14 item 5).

At n = 300 (1-D, kernel 3) column generation stalled at a certified relative
gap of ~4.5e-6, cycling between two solutions of equal objective: a neuron
on a hyperplane is split between the two adjacent cells, and dropping the
inactive one of them each round re-creates the violation. The polish solves
once more, at tight tolerances, over the active cells PLUS the cells of the
last rounds (both sides). The fast test builds that situation by hand: the
program lacks one cell of the optimum's active set, the neighbours supply it.
"""

from __future__ import annotations

import numpy as np
import pytest

from cvxcnn.activations import get_activation
from cvxcnn.arrangements import enumerate_relu_patterns
from cvxcnn.certificates import CERTIFIED, TIGHT_CLARABEL
from cvxcnn.colgen import ColgenSettings, RestrictedPrograms, colgen_over_cells, solve_colgen
from cvxcnn.data import load_dataset
from cvxcnn.losses import get_loss
from cvxcnn.problem import make_problem
from cvxcnn.reconstruct import natural_scale
from tests.conftest import noisy_problem

BETA = 0.01


def _programs(problem, cells) -> RestrictedPrograms:
    return RestrictedPrograms(
        get_activation("relu"), problem, cells, BETA, get_loss("squared"), 1e-6, "CLARABEL",
        TIGHT_CLARABEL, True, None, natural_scale(problem),
    )  # fmt: skip


def test_polish_over_the_neighbours_restores_a_missing_cell():
    problem = noisy_problem(2, (1, 30), 0.3, kernel_size=3)
    cells = enumerate_relu_patterns(problem.Y)
    rp = _programs(problem, cells)
    optimum = solve_colgen(problem, cells, beta=BETA)
    everything = np.ones(len(cells), dtype=bool)
    full = rp.solve(everything)
    active = rp.active(full, everything, 1e-4)
    # the program holds only some of the optimum's active cells; the neighbours the rest
    index = np.flatnonzero(active)
    lacking = np.zeros(len(cells), dtype=bool)
    lacking[index[::3]] = True
    partial = rp.solve(lacking)
    _, cert_alone, _ = rp.polish(partial, lacking, 1e-9)
    missing = active & ~lacking
    fit_, cert, record = rp.polish(partial, lacking, 1e-9, neighbours=missing)
    assert cert_alone.relative_gap > 1e-5  # without the neighbour: stuck
    assert cert.certificate == CERTIFIED
    assert cert.relative_gap <= 1e-6 < record["gap_before"]
    assert record["solves"][-1]["cells"] >= int(lacking.sum())  # the union came last
    assert cert.upper_bound == pytest.approx(optimum.certificate.upper_bound, rel=1e-6)


@pytest.mark.slow
def test_colgen_certifies_1e6_at_n300():
    """1-D, n = 300, kernel 3 (the issue's case): certified relative gap <= 1e-6."""
    data = load_dataset("synthetic1d", n_images=1, size=300, random_state=0)
    problem = make_problem(data.noisy, data.clean, kernel_size=3, spatial_dims=1)
    cells = enumerate_relu_patterns(problem.Y, max_cells=10**6)
    res = solve_colgen(problem, cells, beta=BETA)
    assert res.certificate.certificate == CERTIFIED
    assert res.certificate.relative_gap <= 1e-6
    assert res.converged


def test_colgen_settings_normalize_once_for_both_column_generations():
    settings = ColgenSettings(beta=0.5, loss="absolute")
    assert settings.loss.name == "absolute" and settings.solver_options == TIGHT_CLARABEL
    assert settings.add_per_iteration is None  # each method's own default
    assert ColgenSettings(beta=0.5, solver="SCS").solver_options is None


@pytest.mark.parametrize(
    "bad",
    [{"beta": 0.0}, {"tol": -1.0}, {"add_per_iteration": 0}, {"max_iterations": 0}, {"initial": 0}],
)
def test_colgen_settings_errors_name_the_argument(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        ColgenSettings(**{"beta": 1.0, **bad})


def test_solve_colgen_refuses_a_missing_count():
    problem = noisy_problem(4, (1, 12), 0.3, kernel_size=3)
    cells = enumerate_relu_patterns(problem.Y)
    with pytest.raises(TypeError, match="add_per_iteration"):  # not silently the default
        solve_colgen(problem, cells, beta=BETA, add_per_iteration=None)


def test_solve_colgen_is_colgen_over_its_settings():
    problem = noisy_problem(4, (1, 12), 0.3, kernel_size=3)
    cells = enumerate_relu_patterns(problem.Y)
    direct = solve_colgen(problem, cells, beta=BETA, initial=3, add_per_iteration=2)
    settings = ColgenSettings(beta=BETA, initial=3, add_per_iteration=2)
    again = colgen_over_cells(problem, cells, settings)
    assert direct.certificate.certificate == again.certificate.certificate == CERTIFIED
    assert len(direct.iterations) == len(again.iterations)
    assert direct.fit.objective == pytest.approx(again.fit.objective, rel=1e-9)
