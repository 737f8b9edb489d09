"""The schedules tables are trained and sampled on (dyweight_core/schedules.py), checked against the
schedules the authors stored in their own snapshots."""
import glob
import math
import os

import pytest
import torch

from dyweight_core import schedules
from dyweight_core.official import import_table, read_snapshot
from dyweight_core.table import CoefficientTable, TableError

SD = schedules.ldm_sigmas(schedules.SD_BETAS)


def table(**kw):
    base = dict(steps=3, window=2, weights=[[1.2, 0, 0], [-0.6, 1.5, 0], [0, 0.3, 0.9]], t_scale=[0.95, 1.0, 1.05],
                sigmas=[14.6, 3.0, 0.4, 0.0], name="demo")
    return CoefficientTable(**{**base, **kw}).validate()


def test_discrete_schedule_ends_on_the_networks_exact_range():
    sigmas = schedules.discrete_sigmas(9, SD)
    assert sigmas[0] == SD[-1].item() and sigmas[-1] == SD[0].item()
    assert sigmas[-1] == pytest.approx(0.02916716, rel=1e-6) and sigmas[0] == pytest.approx(14.6146, rel=1e-5)
    # uniform in the timestep index: the middle point is timestep 499.5
    assert schedules.continuous_timestep(torch.tensor(sigmas[4], dtype=torch.float64), SD).item() == pytest.approx(499.5)


def test_continuous_timestep_is_the_grid_on_the_grid_and_differentiable():
    t = schedules.continuous_timestep(SD[[0, 10, 500, 999]], SD)
    assert t.tolist() == pytest.approx([0, 10, 500, 999], abs=1e-9)
    frac = torch.tensor([3.25, 250.5, 998.75], dtype=torch.float64)
    assert schedules.continuous_timestep(schedules.sigma_at_timestep(frac, SD), SD).tolist() == pytest.approx(frac.tolist())
    sigma = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    schedules.continuous_timestep(sigma, SD).backward()
    assert sigma.grad.item() > 0  # time scales learn through it


def test_flux_shift_follows_the_image_size():
    assert schedules.flux_mu(1024) == pytest.approx(1.15) and schedules.flux_mu(256) == pytest.approx(0.5)
    assert schedules.flux_mu(width=1024, height=512) == pytest.approx(0.5 + 0.65 * (2048 - 256) / 3840)
    s = schedules.flux_sigmas(4, 1.15)
    assert s[0] == 1.0 and s[-1] == 0.0 and s[2] == pytest.approx(math.exp(1.15) / (math.exp(1.15) + 1))


def test_table_sigmas_own_or_following_the_resolution():
    own = table()
    assert schedules.table_sigmas(own, mu=0.8) == own.sigmas  # a table's own sigmas, whatever the image size
    with pytest.raises(TableError, match="fixed schedule"):
        schedules.table_sigmas(own, denoise=0.5)
    flux_own = table(convention="velocity", model={"family": "Flux", "model_type": "FLUX"}, sigmas=[1.0, 0.7, 0.3, 0.0])
    assert schedules.table_sigmas(flux_own, mu=0.63) == flux_own.sigmas  # e.g. calibrated on beta: not recomputed
    follows = flux_own.replace(provenance={"schedule": schedules.FOLLOWS_RESOLUTION})
    assert schedules.table_sigmas(follows, mu=1.15) == pytest.approx(schedules.flux_sigmas(3, 1.15))
    assert schedules.table_sigmas(follows, mu=0.6)[1] < schedules.table_sigmas(follows, mu=1.15)[1]
    half = schedules.table_sigmas(follows, mu=1.15, denoise=0.5)
    assert len(half) == 4 and half == pytest.approx(schedules.flux_sigmas(6, 1.15)[-4:])
    assert schedules.table_sigmas(follows, mu=1.15, denoise=0.0) == []  # as BasicScheduler: nothing to do


def test_imported_schedules_equal_the_ones_the_authors_stored(official):
    """Twelve of the authors' snapshots store the schedule they sampled (`t_steps`): ours must be it.
    Inside, float32 precision; the last point is the network's exact sigma_min (they stored float32)."""
    checked = 0
    for path in sorted(glob.glob(os.path.join(official, "pkl", "*", "*.pkl"))):
        stored = read_snapshot(path)["loss_fn"]["state"].get("t_steps")
        if stored is None:
            continue
        ours = import_table(path).sigmas
        gaps = [abs(a - b) / b for a, b in zip(ours, stored.double().tolist())]
        assert max(gaps[:-1]) < 1e-6 and gaps[-1] < 2e-5, (path, gaps)
        checked += 1
    assert checked == 12  # mscoco-nfe16, the seven LSUN-Bedroom LDM tables and four pixel-model tables


def test_sd_8_step_table_ends_at_timestep_0(official):
    """mscoco-nfe16 stores sigma_min 0.02916753 (float32), just above sigma(0): the schedule must not shift."""
    path = glob.glob(os.path.join(official, "pkl", "00038-mscoco-nfe16", "*.pkl"))[0]
    sigmas = import_table(path).sigmas
    assert sigmas[-1] == SD[0].item() and sigmas[0] == SD[-1].item() and len(sigmas) == 9
