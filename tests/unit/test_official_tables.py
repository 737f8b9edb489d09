"""The authors' released tables (../shared/official), imported from the original files, run through our solver
and match the independent implementation of the equations. Skipped cleanly when ../shared is absent."""
import glob
import json
import os

import pytest
import torch

from dyweight_core.official import import_table
from dyweight_core.schedules import flux_sigmas
from dyweight_core.solver import sample_with_table
from dyweight_core.mixture import GaussianMixture
from dyweight_reference import reference_dyweight

MIX = GaussianMixture.pictures(count=8, size=8)
flat = lambda rows: [float(v) for row in rows for v in row]


def check(table, kind, sigmas, gaps):
    """float64 run: the maths match to rounding; float32 run: within float32 error of the start scale."""
    D = MIX.denoiser(kind)
    x = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * sigmas[0]
    ref = reference_dyweight(D, x, sigmas, table.weights, table.t_scale, table.window, table.afs, table.convention)
    exact = sample_with_table(lambda y, s: D(y, s[0]), x, torch.tensor(sigmas, dtype=torch.float64), table=table)
    gap = ((exact - ref).abs().max() / ref.abs().max()).item()
    assert gap < 1e-10
    single = sample_with_table(lambda y, s: D(y, s[0]), x.float(), torch.tensor(sigmas), table=table)
    gap32 = ((single.double() - ref).abs().max() / ref.abs().max()).item()
    assert gap32 < 1e-6 * max(1.0, sigmas[0])
    gaps.append((gap, gap32))


def test_edm_ldm_tables(official):
    """Each of the 40 original snapshots, imported, on the schedule it was trained on."""
    data = json.load(open(os.path.join(official, "edm_ldm_tables.json")))["tables"]
    gaps = []
    for path in sorted(glob.glob(os.path.join(official, "pkl", "*", "*.pkl"))):
        table = import_table(path)
        entry = data[os.path.basename(os.path.dirname(path))]
        assert flat(table.weights) == pytest.approx(flat(entry["weights"]), abs=1e-7) and table.t_scale == pytest.approx(entry["t_scale"], abs=1e-7)
        check(table, "eps", table.sigmas, gaps)
    assert len(gaps) == len(data) == 40
    print(f"official EDM/LDM tables: {len(gaps)} reproduced, max relative gap float64 {max(g[0] for g in gaps):.1e}, float32 {max(g[1] for g in gaps):.1e}")


def test_flux_tables(official):
    files = sorted(glob.glob(os.path.join(official, "flux", "*.pt")))
    assert files
    gaps = []
    for path in files:
        raw = torch.load(path, map_location="cpu", weights_only=True)
        table = import_table(path)
        assert flat(table.weights) == pytest.approx(raw["dyweight_weights_raw"].double().reshape(-1).tolist())
        check(table, "flow", flux_sigmas(table.steps, 1.15), gaps)
    print(f"official FLUX tables: {len(gaps)} reproduced, max relative gap float64 {max(g[0] for g in gaps):.1e}, float32 {max(g[1] for g in gaps):.1e}")
