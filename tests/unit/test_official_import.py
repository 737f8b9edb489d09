"""Safe import of the authors' tables: the 40 original snapshots, synthetic ones with the same structure (a
benign one, hostile ones that would run a command, one whose window and mask disagree), the FLUX .pt files, the CLI."""
import collections
import glob
import json
import os
import pickle
import subprocess
import sys
import types

import pytest
import torch

from dyweight_core.official import ImportRefused, import_table
from dyweight_core.schedules import flux_sigmas
from dyweight_core.table import load_table

flat = lambda rows: [float(v) for row in rows for v in row]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))


def _module(name, **attrs):
    mod = types.ModuleType(name)
    for key, value in attrs.items():
        value.__module__, value.__qualname__ = name, key
        setattr(mod, key, value)
    sys.modules[name] = mod
    return mod


def _reconstruct_persistent_obj(meta):
    raise AssertionError("only used for pickling")


_module("torch_utils")
_module("torch_utils.persistence", _reconstruct_persistent_obj=_reconstruct_persistent_obj)
_module("solvers", dyweight_sampler=lambda: None, heun_sampler=lambda: None)


class Persistent:
    """Pickles as persistence._reconstruct_persistent_obj(meta), as NVIDIA's persistence module does."""

    def __init__(self, class_name, state, module_src="import os\nos.system('echo persistence source ran')"):
        self.meta = {"type": "class", "version": 6, "module_src": module_src, "class_name": class_name, "state": state}

    def __reduce__(self):
        return (_reconstruct_persistent_obj, (self.meta,))


def band(n, window):
    return torch.tensor([[1.0 if i - window < j <= i else 0.0 for j in range(n)] for i in range(n)])


def write_snapshot(path, entry, extra_state=None):
    """As the authors' code writes them: max_history_steps is the window K, effective_window_size K - 1."""
    n = entry["num_steps"] - 1
    W = torch.tensor(entry["weights"], dtype=torch.float32)
    mask = band(n, entry["window"])
    unmasked = W + (1 - mask) * 0.37  # junk outside the band must be masked away on import
    predictor_state = {
        "_parameters": collections.OrderedDict(hybrid_weights=torch.nn.Parameter(unmasked),
                                               t_scale=torch.nn.Parameter(torch.tensor(entry["t_scale"]))),
        "_buffers": collections.OrderedDict(mask=mask), "num_steps": entry["num_steps"], "max_history_steps": entry["window"],
        "afs": entry["afs"], "guidance_type": entry.get("guidance_type"), "guidance_rate": entry.get("guidance_rate"),
        "init_mode": "ab", "effective_window_size": entry["window"] - 1, **(extra_state or {})}
    loss_state = {k: entry[k] for k in ("teacher_steps", "schedule_type", "schedule_rho", "sigma_min", "sigma_max", "loss_type")}
    loss_state.update(dataset_name=entry["dataset"], sampler_stu=sys.modules["solvers"].dyweight_sampler,
                      sampler_tea=sys.modules["solvers"].heun_sampler)
    with open(path, "wb") as f:
        pickle.dump({"predictor": Persistent("DyWeight_predictor", predictor_state),
                     "loss_fn": Persistent("DyWeight_loss", loss_state)}, f)
    assert n == W.shape[0]


SMALL = {"num_steps": 4, "window": 2, "afs": True, "weights": [[1.1, 0, 0], [-0.4, 1.3, 0], [0, -0.5, 1.6]], "t_scale": [0.9, 1.05],
         "teacher_steps": 35, "schedule_type": "polynomial", "schedule_rho": 7.0, "sigma_min": 0.002, "sigma_max": 80.0,
         "loss_type": "inception", "dataset": "cifar10"}


def test_benign_snapshot_imports_without_running_anything(tmp_path, capfd):
    path = tmp_path / "network-snapshot-000010.pkl"
    write_snapshot(path, SMALL)
    table = import_table(str(path))
    assert flat(table.weights) == pytest.approx(flat(SMALL["weights"])) and table.t_scale == pytest.approx(SMALL["t_scale"])
    assert table.afs and table.window == 2 and table.convention == "denoiser"
    assert table.model["family"] == "EDM-cifar10"
    assert table.sigmas[0] == pytest.approx(80.0) and table.sigmas[-1] == pytest.approx(0.002) and len(table.sigmas) == 4
    assert "persistence source ran" not in capfd.readouterr().out


class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class EvalEvil:
    def __reduce__(self):
        return (eval, ("__import__('os').system('touch /tmp/dyweight-eval-ran')",))


@pytest.mark.parametrize("where", ["top", "state", "eval"])
def test_hostile_snapshot_is_refused_and_nothing_runs(tmp_path, where):
    marker = tmp_path / "PWNED"
    path = tmp_path / "network-snapshot-evil.pkl"
    if where == "top":
        with open(path, "wb") as f:
            pickle.dump({"predictor": Evil(marker)}, f)
    elif where == "state":
        write_snapshot(path, SMALL, extra_state={"init_mode": Evil(marker)})
    else:
        with open(path, "wb") as f:
            pickle.dump([EvalEvil()], f)
    with pytest.raises(ImportRefused, match="refused global (posix|os|builtins)"):
        import_table(str(path))
    assert not marker.exists() and not os.path.exists("/tmp/dyweight-eval-ran")


def test_junk_and_wrong_files(tmp_path):
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(b"\x80\x04not a pickle at all")
    with pytest.raises(ImportRefused, match="junk.pkl"):
        import_table(str(junk))
    other = tmp_path / "other.pkl"
    with open(other, "wb") as f:
        pickle.dump({"predictor": Persistent("SomethingElse", {})}, f)
    with pytest.raises(ImportRefused, match="not DyWeight_predictor"):
        import_table(str(other))
    with pytest.raises(ImportRefused, match="unknown kind"):
        import_table(str(tmp_path / "x.ckpt"))


def test_shared_reference_numbers_survive_a_snapshot_round_trip(official, tmp_path):
    data = json.load(open(os.path.join(official, "edm_ldm_tables.json")))["tables"]
    for name, entry in data.items():
        path = tmp_path / f"{name}.pkl"
        write_snapshot(path, entry)
        table = import_table(str(path))
        assert flat(table.weights) == pytest.approx(flat(entry["weights"]), abs=1e-6), name
        assert table.t_scale == pytest.approx(entry["t_scale"], abs=1e-6), name
        assert (table.afs, table.window, table.steps) == (entry["afs"], entry["window"], entry["num_steps"] - 1)
        assert all(b < a for a, b in zip(table.sigmas, table.sigmas[1:]))
        if entry["dataset"] == "ms_coco":
            assert table.model["family"] == "SD15" and table.provenance["timestep"] == "continuous"
            assert table.sigmas[0] == pytest.approx(14.614643) and table.sigmas[-1] == pytest.approx(0.02916716, rel=1e-6)


def test_all_40_originals_import_with_the_published_numbers(official):
    """The authors' own files, not ours: window from max_history_steps, checked against the mask."""
    data = json.load(open(os.path.join(official, "edm_ldm_tables.json")))["tables"]
    paths = sorted(glob.glob(os.path.join(official, "pkl", "*", "network-snapshot-*.pkl")))
    assert len(paths) == len(data) == 40
    for path in paths:
        experiment = os.path.basename(os.path.dirname(path))
        entry, table = data[experiment], import_table(path)
        assert (table.window, table.steps, table.afs) == (entry["window"], entry["num_steps"] - 1, entry["afs"]), experiment
        assert flat(table.weights) == pytest.approx(flat(entry["weights"]), abs=1e-7), experiment
        assert table.t_scale == pytest.approx(entry["t_scale"], abs=1e-7), experiment
        assert table.provenance["sha256"] == entry["sha256"] and table.provenance["file"] == entry["file"]
        assert table.provenance["cfg"] == (entry["guidance_rate"] or 1.0)


def test_window_that_disagrees_with_the_mask_is_refused(tmp_path):
    path = tmp_path / "network-snapshot-odd.pkl"
    write_snapshot(path, dict(SMALL, window=3))  # weights fit window 2, but the file claims 3 ...
    with open(path, "rb") as f:
        raw = f.read()
    write_snapshot(path, SMALL, extra_state={"max_history_steps": 3})  # ... and a mask of width 2
    with pytest.raises(ImportRefused, match="max_history_steps 3 disagrees with the band of the mask .width 2"):
        import_table(str(path))
    assert raw  # the consistent window-3 file imports
    consistent = tmp_path / "network-snapshot-ok.pkl"
    consistent.write_bytes(raw)
    assert import_table(str(consistent)).window == 3


def test_flux_tables(official):
    for steps in (3, 5, 7):
        path = os.path.join(official, "flux", f"dyweight_nfe{steps}.pt")
        raw = torch.load(path, map_location="cpu", weights_only=True)
        table = import_table(path)
        assert table.convention == "velocity" and not table.afs and table.model["family"] == "Flux"
        assert flat(table.weights) == pytest.approx(flat(raw["dyweight_weights_raw"].double().tolist()))
        assert table.t_scale == pytest.approx(raw["dyweight_t_scales"].double().tolist())
        assert table.sigmas == pytest.approx(flux_sigmas(steps, 1.15)) and table.sigmas[0] == 1.0
        assert table.provenance["schedule"] == "flux_shift" and len(table.provenance["sha256"]) == 64


def test_cli(official, tmp_path):
    out = tmp_path / "flux7.yaml"
    cmd = [sys.executable, "-m", "dyweight_core.official", os.path.join(official, "flux", "dyweight_nfe7.pt"), "-o", str(out)]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0 and "7 steps" in res.stdout
    assert load_table(str(out)).steps == 7
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)  # refuses to overwrite
    assert again.returncode != 0 and len(again.stderr.strip().splitlines()) == 1 and "already exists" in again.stderr
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(b"junk")
    bad = subprocess.run([sys.executable, "-m", "dyweight_core.official", str(junk), "-o", str(tmp_path / "j.yaml")],
                         cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr.startswith("error: ") and not (tmp_path / "j.yaml").exists()


def test_shipped_tables_are_the_originals_converted(official):
    """coefficients/ ships SD1.5 and FLUX.1-dev tables; regenerating them from the originals changes nothing."""
    res = subprocess.run([sys.executable, "-m", "scripts.make_official_tables", "--check", "--official", official],
                         cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    for name, steps in [("sd15_dyweight_4steps", 4), ("sd15_dyweight_10steps", 10), ("flux1dev_dyweight_7steps", 7)]:
        table = load_table(os.path.join(ROOT, "coefficients", name + ".yaml"))
        assert table.steps == steps and table.provenance["scheduler"] == "dyweight" and len(table.provenance["sha256"]) == 64
        assert table.provenance["paper"].endswith("arXiv 2603.11607")
