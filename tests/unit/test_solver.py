"""The core solver against its special cases and an independent implementation of the equations."""
import math

import pytest
import torch

from dyweight_core.solver import NonFiniteError, sample_with_table, step_plan, unroll, unroll_together
from dyweight_core.table import CoefficientTable, adams_bashforth_table, euler_table
from dyweight_core.mixture import GaussianMixture
from dyweight_reference import reference_dyweight

MIX = GaussianMixture.pictures(count=6, size=8)
EPS_SIGMAS = [14.6, 6.1, 2.4, 0.9, 0.3, 0.0]
FLOW_SIGMAS = [1.0, 0.86, 0.68, 0.45, 0.2, 0.0]


def model_of(denoise):
    return lambda x, sigma: denoise(x, sigma[0])


def noise(batch=3, shape=(3, 8, 8), seed=0):
    return torch.randn((batch,) + shape, generator=torch.Generator().manual_seed(seed))


def random_table(sigmas, window, afs=False, convention="denoiser", seed=1):
    g = torch.Generator().manual_seed(seed)
    n = len(sigmas) - 1
    W = torch.zeros(n, n, dtype=torch.float64)
    for i in range(n):
        for j in range(max(0, i - window + 1), i + 1):
            W[i, j] = (1.0 if i == j else 0.0) + 0.3 * (torch.rand((), generator=g, dtype=torch.float64) - 0.5)
    s = 1 + 0.2 * (torch.rand(n - 1 if afs else n, generator=g, dtype=torch.float64) - 0.5)
    return CoefficientTable(steps=n, window=window, weights=W.tolist(), t_scale=s.tolist(), sigmas=sigmas,
                            convention=convention, afs=afs).validate()


def euler(denoise, x, sigmas):
    for a, b in zip(sigmas[:-1], sigmas[1:]):
        x = x + (b - a) * (x - denoise(x, a)) / a
    return x


@pytest.mark.parametrize("kind,sigmas", [("eps", EPS_SIGMAS), ("flow", FLOW_SIGMAS)])
def test_identity_window_one_is_euler(kind, sigmas):
    D = MIX.denoiser(kind)
    x = noise() * sigmas[0]
    out = sample_with_table(model_of(D), x, torch.tensor(sigmas), table=euler_table(sigmas))
    ref = euler(lambda y, s: D(y.double(), s), x.double(), sigmas)
    assert torch.allclose(out.double(), ref, rtol=1e-5, atol=1e-5)


def test_adams_bashforth_rows_and_final_step():
    t = adams_bashforth_table(EPS_SIGMAS)
    assert t.weights[0][0] == 1.0
    assert t.weights[3][:4] == [-9 / 24, 37 / 24, -59 / 24, 55 / 24]
    assert t.weights[4] == [0.0, 0.0, 0.0, 0.0, 1.0]  # lands on sigma 0: current derivative only (as ipndm)
    assert all(math.isclose(sum(r), 1.0) for r in t.weights)
    t2 = adams_bashforth_table(EPS_SIGMAS[:-1] + [0.05])
    assert t2.weights[4][1:] == [-9 / 24, 37 / 24, -59 / 24, 55 / 24]


@pytest.mark.parametrize("window", [1, 2, 3, 5])
@pytest.mark.parametrize("afs", [False, True])
@pytest.mark.parametrize("convention,kind,sigmas", [("denoiser", "eps", EPS_SIGMAS), ("velocity", "flow", FLOW_SIGMAS)])
def test_matches_independent_implementation(window, afs, convention, kind, sigmas):
    D = MIX.denoiser(kind)
    table = random_table(sigmas, window, afs, convention)
    x = noise() * sigmas[0]
    out = sample_with_table(model_of(D), x, torch.tensor(sigmas), table=table)
    ref = reference_dyweight(D, x, sigmas, table.weights, table.t_scale, window, afs, convention)
    assert torch.allclose(out.double(), ref, rtol=1e-5, atol=1e-5), (out.double() - ref).abs().max()


def test_time_calibration_moves_the_model_calls():
    sigmas = EPS_SIGMAS
    table = random_table(sigmas, 2)
    plan = step_plan(table, sigmas)
    tau = sigmas[0]
    for i, p in enumerate(plan):
        assert math.isclose(float(p["tau"]), tau, rel_tol=1e-12)
        assert math.isclose(float(p["eval_sigma"]), table.t_scale[i] * tau, rel_tol=1e-12)
        tau = tau + sum(table.weights[i]) * (sigmas[i + 1] - tau)
    calls = []
    sample_with_table(lambda x, s: (calls.append(float(s[0])), x * 0)[1], noise(), torch.tensor(sigmas), table=table)
    assert calls == pytest.approx([float(p["eval_sigma"]) for p in plan], rel=1e-6)


def test_inner_sigmas_only_reparametrise_a_table():
    """The endpoint depends only on each step's coefficients (sigma_{i+1} - tau_i) W_ij and its model-call sigmas, so
    a table re-expressed on other inner sigmas (same first sigma and steps) solves exactly alike: learning the sigmas
    beside W and s adds no freedom, only another start and another geometry for the optimiser."""
    D = MIX.denoiser("eps")
    table = random_table(EPS_SIGMAS, 3)
    other = [EPS_SIGMAS[0], 9.0, 4.0, 1.5, 0.5, 0.0]
    plan = step_plan(table, EPS_SIGMAS)
    weights = [[0.0] * table.steps for _ in range(table.steps)]
    for i, p in enumerate(plan):
        lo = max(0, i - table.window + 1)
        weights[i][lo:i + 1] = (p["coeffs"] / (other[i + 1] - p["tau"])).tolist()
    moved = table.replace(weights=weights, t_scale=[float(p["eval_sigma"] / p["tau"]) for p in plan], sigmas=other)
    x = noise(seed=4).double() * EPS_SIGMAS[0]
    solve = lambda t, sigmas: unroll(D, x, sigmas, t)
    assert torch.allclose(solve(moved, other), solve(table, EPS_SIGMAS), rtol=0, atol=1e-10)
    assert not torch.allclose(solve(table, other), solve(table, EPS_SIGMAS), rtol=0, atol=1e-3)  # the same W is not


def test_afs_skips_first_model_call():
    table = random_table(EPS_SIGMAS, 3, afs=True)
    calls = []
    sample_with_table(lambda x, s: (calls.append(1), x * 0)[1], noise(), torch.tensor(EPS_SIGMAS), table=table)
    assert len(calls) == table.steps - 1


def test_batch_video_and_low_precision_model():
    D = MIX.denoiser("eps")
    table = random_table(EPS_SIGMAS, 3)
    g = torch.Generator().manual_seed(3)
    video_mix = GaussianMixture(torch.rand(4, 2, 3, 4, 4, generator=g) * 2 - 1)
    Dv = video_mix.denoiser("eps")
    x = torch.randn(16, 2, 3, 4, 4, generator=g) * EPS_SIGMAS[0]
    out = sample_with_table(model_of(Dv), x, torch.tensor(EPS_SIGMAS), table=table)
    ref = reference_dyweight(Dv, x, EPS_SIGMAS, table.weights, table.t_scale, 3)
    # float32 accumulation from a start of magnitude ~50: absolute error of a few 1e-6 x sigma_0
    assert out.shape == x.shape and torch.allclose(out.double(), ref, rtol=1e-5, atol=1e-5 * EPS_SIGMAS[0])
    # a bf16 model: accumulation stays float32, the result keeps the input dtype
    x = noise(4) * EPS_SIGMAS[0]
    low = sample_with_table(lambda y, s: D(y.to(torch.bfloat16), s[0]).to(torch.bfloat16), x, torch.tensor(EPS_SIGMAS), table=table)
    assert low.dtype == torch.float32 and torch.isfinite(low).all()
    assert (low.double() - reference_dyweight(D, x, EPS_SIGMAS, table.weights, table.t_scale, 3)).abs().max() < 0.1


def test_history_is_bounded_by_window():
    import dyweight_core.solver as solver
    sizes = []
    table = random_table(EPS_SIGMAS, 2)
    orig = solver.deque
    def spy(*a, **k):
        d = orig(*a, **k)
        sizes.append(d)
        return d
    solver.deque = spy
    try:
        sample_with_table(model_of(MIX.denoiser("eps")), noise(), torch.tensor(EPS_SIGMAS), table=table)
    finally:
        solver.deque = orig
    assert sizes and all(d.maxlen == 2 and len(d) <= 2 for d in sizes)


def test_callback_each_step():
    seen = []
    sample_with_table(model_of(MIX.denoiser("eps")), noise(), torch.tensor(EPS_SIGMAS), callback=lambda d: seen.append(d["i"]))
    assert seen == list(range(len(EPS_SIGMAS) - 1))


def test_gradient_reaches_weights_and_time_scales():
    D = MIX.denoiser("eps")
    table = random_table(EPS_SIGMAS, 2)
    W = torch.tensor(table.weights, requires_grad=True)
    s = torch.tensor(table.t_scale, requires_grad=True)
    x = unroll(D, noise() * EPS_SIGMAS[0], EPS_SIGMAS, table.replace(weights=W, t_scale=s))
    x.square().mean().backward()
    assert W.grad.abs().sum() > 0 and (s.grad.abs() > 0).all()


def test_non_finite_output_is_an_error_naming_the_table():
    table = random_table(EPS_SIGMAS, 2).replace(name="broken")
    with pytest.raises(NonFiniteError, match="broken"):
        sample_with_table(lambda x, s: x * float("nan"), noise(), torch.tensor(EPS_SIGMAS), table=table)


def test_solves_unrolled_together_share_model_calls_and_give_each_solve_its_own_numbers():
    """Calibrating several step counts at once: one model call per step index for every solve still running (a
    per-sample sigma), each solve's result unroll()'s, an AFS step calling nothing, one solve unroll() to the bit."""
    D = MIX.denoiser("eps")
    calls = []
    per_sample = lambda x, s: (calls.append(len(x)), D(x, s.reshape(-1, *[1] * (x.ndim - 1))))[1]
    schedules = [EPS_SIGMAS[:1] + EPS_SIGMAS[-3:], EPS_SIGMAS, [14.6, 9.0, 6.1, 3.5, 2.4, 1.4, 0.9, 0.3, 0.0]]
    tables = [random_table(schedules[0], 3), random_table(schedules[1], 4, afs=True), random_table(schedules[2], 8, seed=2)]
    xs = [noise(2, seed=k) for k in range(3)]
    with torch.enable_grad():
        together = unroll_together(per_sample, xs, schedules, tables)
        alone = [unroll(lambda x, s: D(x, s), x, s, t) for x, s, t in zip(xs, schedules, tables)]
    assert calls == [4, 6, 6, 4, 4, 2, 2, 2]  # step 0: solves 1 and 3 (2 is AFS); 1-2: all three; 3-4: the longer two; then one
    for a, b in zip(together, alone):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)
    with torch.enable_grad():
        (one,) = unroll_together(lambda x, s: D(x, s), xs[:1], schedules[:1], tables[:1])
    assert torch.equal(one, alone[0])
