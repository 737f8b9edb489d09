"""Safe import of the authors' released DyWeight tables into CoefficientTable.

FLUX `.pt` files are plain tensors (torch.load with weights_only). The EDM/LDM/SD `.pkl` snapshots
are pickles written by NVIDIA's torch_utils.persistence, which embed Python source that a normal
unpickler would execute: they are read by a restricted unpickler that maps the few expected globals
to inert stand-ins and refuses every other one. Nothing from the file is ever executed.

    python -m dyweight_core.official SRC -o DST.yaml [--resolution 1024]
"""
import argparse
import collections
import hashlib
import io
import os
import pickle
import sys

import torch

from . import schedules
from .table import CoefficientTable, TableError, save_table

LATENT_BETAS = {"ms_coco": schedules.SD_BETAS, "lsun_bedroom_ldm": schedules.LSUN_LDM_BETAS}
DATASET_FAMILY = {"ms_coco": ("SD15", "EPS"), "lsun_bedroom_ldm": ("LDM-lsun_bedroom", "EPS")}


class ImportRefused(TableError):
    pass


# --- the restricted unpickler ---------------------------------------------------------------------
def _persistent_obj(meta):
    """Stand-in for persistence._reconstruct_persistent_obj: keep the data, never run module_src."""
    if not isinstance(meta, dict):
        raise ImportRefused("unexpected persistent object (not a dict)")
    return {"class_name": meta.get("class_name"), "state": meta.get("state", {})}


def _storage_from_bytes(data):
    """Legacy torch.save payload of one storage, read with the weights-only loader."""
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def _rebuild_parameter(tensor, requires_grad=False, backward_hooks=None, *rest):
    return tensor


def _solver_stub(name):
    return f"<solver {name}>"


ALLOWED = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _persistent_obj,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _storage_from_bytes,
}
STUB_MODULES = {"solvers"}  # functions referenced by loss_fn (dyweight_sampler, heun_sampler, ...)


class SnapshotUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in ALLOWED:
            return ALLOWED[(module, name)]
        if module in STUB_MODULES and name.isidentifier():
            return _solver_stub(f"{module}.{name}")
        raise ImportRefused(f"refused global {module}.{name}: not part of a DyWeight snapshot (nothing was executed)")


def read_snapshot(path):
    """{'predictor': {...}, 'loss_fn': {...}} of a network-snapshot-*.pkl, read without executing it."""
    with open(path, "rb") as f:
        try:
            data = SnapshotUnpickler(f).load()
        except ImportRefused:
            raise
        except Exception as e:
            raise ImportRefused(f"not a readable DyWeight snapshot ({type(e).__name__}: {e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("predictor"), dict):
        raise ImportRefused("no 'predictor' in the snapshot")
    if data["predictor"].get("class_name") != "DyWeight_predictor":
        raise ImportRefused(f"predictor is {data['predictor'].get('class_name')!r}, not DyWeight_predictor")
    return data


# --- importers -------------------------------------------------------------------------------------
PAPER = "Zhao et al., DyWeight: Dynamic Gradient Weighting for Few-Step Diffusion Sampling, arXiv 2603.11607"
REPOSITORY = "Westlake-AGI-Lab/DyWeight on GitHub (no license file; the coefficients are published figures)"


def file_sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def band_width(mask):
    """The history window K of a 0/1 band mask, or None when it is not a lower band of one width."""
    n = mask.shape[0]
    width = int(mask[-1].sum().item()) if n else 0
    band = torch.tensor([[1.0 if i - width < j <= i else 0.0 for j in range(n)] for i in range(n)], dtype=torch.float64)
    return width if torch.equal(mask.double(), band) else None


def import_flux(path, resolution=1024):
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ImportRefused(f"not a readable FLUX DyWeight file ({type(e).__name__}: {str(e).splitlines()[0]})") from None
    if not isinstance(raw, dict) or "dyweight_weights_raw" not in raw or "dyweight_t_scales" not in raw:
        raise ImportRefused("missing dyweight_weights_raw / dyweight_t_scales")
    weights = raw["dyweight_weights_raw"].double()
    steps = weights.shape[0]
    return CoefficientTable(
        steps=steps, window=int(raw.get("window_size", steps)), weights=weights.tolist(),
        t_scale=raw["dyweight_t_scales"].double().tolist(), sigmas=schedules.flux_sigmas(steps, schedules.flux_mu(resolution)),
        convention="velocity", afs=False, model={"family": "Flux", "model_type": "FLUX", "shift": None},
        provenance={"source": f"DyWeight authors' FLUX.1-dev table {os.path.basename(path)}", "paper": PAPER,
                    "repository": REPOSITORY, "file": os.path.basename(path), "sha256": file_sha256(path),
                    "teacher": "euler 28 steps", "cfg": 1.0, "guidance": 3.5, "training_resolution": 512, "loss": "l2",
                    "scheduler": "dyweight", "schedule": schedules.FOLLOWS_RESOLUTION, "resolution": resolution},
        name=os.path.splitext(os.path.basename(path))[0]).validate()


def snapshot_sigmas(points, loss, dataset):
    """The schedule the authors sample a snapshot on: latent models run over the network's own sigma
    range (what loss_fn stores there is not what sampling uses), pixel EDM models over loss_fn's."""
    kind, rho = loss.get("schedule_type", "polynomial"), float(loss.get("schedule_rho") or 7.0)
    if dataset in LATENT_BETAS:
        grid = schedules.ldm_sigmas(LATENT_BETAS[dataset])
        if kind == "discrete":
            return schedules.discrete_sigmas(points, grid), "ldm_discrete"
        smin, smax = grid[0].item(), grid[-1].item()
    else:
        smin, smax = float(loss.get("sigma_min", 0.002)), float(loss.get("sigma_max", 80.0))
    if kind != "polynomial":
        raise ImportRefused(f"schedule type {kind!r} of {dataset} is not supported")
    return schedules.polynomial_sigmas(points, smin, smax, rho), f"polynomial rho {rho:g}"


def import_snapshot(path):
    data = read_snapshot(path)
    state = data["predictor"]["state"]
    loss = (data.get("loss_fn") or {}).get("state", {})
    params, buffers = state.get("_parameters", {}), state.get("_buffers", {})
    if "hybrid_weights" not in params or "t_scale" not in params or buffers.get("mask") is None:
        raise ImportRefused("predictor has no hybrid_weights / t_scale / mask")
    # The window K is max_history_steps (effective_window_size is K - 1, the previous derivatives);
    # the mask is the band the authors trained: a file where the two disagree is not understood.
    window, mask_width = state.get("max_history_steps"), band_width(buffers["mask"])
    if not isinstance(window, int) or mask_width != window:
        raise ImportRefused(f"max_history_steps {window!r} disagrees with the band of the mask "
                            f"({'not a band' if mask_width is None else f'width {mask_width}'})")
    weights = params["hybrid_weights"].double() * buffers["mask"].double()
    steps = weights.shape[0]
    points = int(state.get("num_steps", steps + 1))
    dataset = str(loss.get("dataset_name", "unknown"))
    sigmas, schedule = snapshot_sigmas(points, loss, dataset)
    family, model_type = DATASET_FAMILY.get(dataset, (f"EDM-{dataset}", "EDM"))
    experiment = os.path.basename(os.path.dirname(os.path.abspath(path)))
    teacher = str(loss.get("solver_tea", "?")).replace("<solver solvers.", "").replace("_sampler>", "")
    provenance = {"source": f"DyWeight authors' table {experiment} ({dataset})", "paper": PAPER, "repository": REPOSITORY,
                  "file": f"exps/{experiment}/{os.path.basename(path)}", "sha256": file_sha256(path),
                  "teacher": f"{teacher} {loss.get('teacher_steps', '?')} steps", "loss": loss.get("loss_type"),
                  "cfg": float(state.get("guidance_rate") or 1.0), "guidance_type": state.get("guidance_type"),
                  "scheduler": "dyweight", "schedule": schedule}
    if dataset in LATENT_BETAS:
        provenance["timestep"] = "continuous"  # CFGPrecond feeds the UNet fractional timesteps
    return CoefficientTable(
        steps=steps, window=window, weights=weights.tolist(), t_scale=params["t_scale"].double().reshape(-1).tolist(),
        sigmas=sigmas, convention="denoiser", afs=bool(state.get("afs", False)),
        model={"family": family, "model_type": model_type, "shift": None}, provenance=provenance,
        name=os.path.splitext(os.path.basename(path))[0]).validate()


def import_table(path, resolution=1024):
    """A CoefficientTable from an official .pt (FLUX) or .pkl (EDM/LDM/SD) file."""
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext == ".pt":
            return import_flux(path, resolution)
        if ext == ".pkl":
            return import_snapshot(path)
    except TableError as e:
        raise ImportRefused(f"{path}: {e}") from None
    raise ImportRefused(f"{path}: unknown kind of file (expected an official .pt or .pkl)")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m dyweight_core.official", description=__doc__.splitlines()[0])
    ap.add_argument("src", help="official dyweight_nfe*.pt (FLUX) or network-snapshot-*.pkl")
    ap.add_argument("-o", "--output", required=True, help="table to write (.yaml), e.g. ComfyUI/models/dyweight/flux_7.yaml")
    ap.add_argument("--resolution", type=int, default=1024, help="FLUX: image size whose schedule to record")
    ap.add_argument("--overwrite", action="store_true")
    args = ap.parse_args(argv)
    try:
        table = import_table(args.src, args.resolution)
        save_table(table, args.output, overwrite=args.overwrite)
    except (TableError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.output}: {table.steps} steps, window {table.window}, {table.convention}, family {table.model['family']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
