"""The authors' released tables (../shared/official) run through our solver and match the independent
implementation of the equations. Skipped cleanly when ../shared is absent."""
import glob
import json
import math
import os

import torch

from dyweight_core.solver import sample_dyweight
from dyweight_core.table import CoefficientTable
from dyweight_core.testbed import GaussianMixture
from dyweight_reference import reference_dyweight

MIX = GaussianMixture.pictures(count=8, size=8)


def edm_sigmas(n_points, smin=0.002, smax=80.0, rho=7.0):
    i = torch.arange(n_points, dtype=torch.float64) / (n_points - 1)
    return ((smax ** (1 / rho) + i * (smin ** (1 / rho) - smax ** (1 / rho))) ** rho).tolist()


def flux_sigmas(n, mu=1.15):
    t = torch.linspace(1, 1 / n, n, dtype=torch.float64)
    return (math.exp(mu) / (math.exp(mu) + (1 / t - 1))).tolist() + [0.0]


def check(table, kind, sigmas, gaps):
    """float64 run: the maths match to rounding; float32 run: within float32 error of the start scale."""
    D = MIX.denoiser(kind)
    x = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * sigmas[0]
    ref = reference_dyweight(D, x, sigmas, table.weights, table.t_scale, table.window, table.afs, table.convention)
    exact = sample_dyweight(lambda y, s: D(y, s[0]), x, torch.tensor(sigmas, dtype=torch.float64), table=table)
    gap = ((exact - ref).abs().max() / ref.abs().max()).item()
    assert gap < 1e-10
    single = sample_dyweight(lambda y, s: D(y, s[0]), x.float(), torch.tensor(sigmas), table=table)
    gap32 = ((single.double() - ref).abs().max() / ref.abs().max()).item()
    assert gap32 < 1e-6 * max(1.0, sigmas[0])
    gaps.append((gap, gap32))


def test_edm_ldm_tables(official):
    data = json.load(open(os.path.join(official, "edm_ldm_tables.json")))["tables"]
    gaps = []
    for name, e in data.items():
        n = e["num_steps"] - 1
        if e["dataset"] == "ms_coco" or "mscoco" in name:
            sigmas = torch.linspace(14.6, 0.03, e["num_steps"]).tolist()  # any decreasing schedule tests the maths
        else:
            sigmas = edm_sigmas(e["num_steps"], e.get("sigma_min") or 0.002, e.get("sigma_max") or 80.0, e.get("schedule_rho") or 7.0)
        table = CoefficientTable(steps=n, window=e["window"], weights=e["weights"], t_scale=e["t_scale"], sigmas=sigmas,
                                 convention=e["convention"], afs=bool(e["afs"]), name=name).validate()
        check(table, "eps", sigmas, gaps)
    assert len(gaps) == len(data) == 40
    print(f"official EDM/LDM tables: {len(gaps)} reproduced, max relative gap float64 {max(g[0] for g in gaps):.1e}, float32 {max(g[1] for g in gaps):.1e}")


def test_flux_tables(official):
    files = sorted(glob.glob(os.path.join(official, "flux", "*.pt")))
    assert files
    gaps = []
    for path in files:
        raw = torch.load(path, map_location="cpu", weights_only=True)
        W = raw["dyweight_weights_raw"].double()
        n = W.shape[0]
        sigmas = flux_sigmas(n)
        table = CoefficientTable(steps=n, window=int(raw["window_size"]), weights=W.tolist(),
                                 t_scale=raw["dyweight_t_scales"].double().tolist(), sigmas=sigmas,
                                 convention="velocity", name=os.path.basename(path)).validate()
        check(table, "flow", sigmas, gaps)
    print(f"official FLUX tables: {len(gaps)} reproduced, max relative gap float64 {max(g[0] for g in gaps):.1e}, float32 {max(g[1] for g in gaps):.1e}")
