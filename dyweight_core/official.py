"""Safe import of the authors' released DyWeight tables into CoefficientTable.

FLUX `.pt` files are plain tensors (torch.load with weights_only). The EDM/LDM/SD `.pkl` snapshots
are pickles written by NVIDIA's torch_utils.persistence, which embed Python source that a normal
unpickler would execute: they are read by a restricted unpickler that maps the few expected globals
to inert stand-ins and refuses every other one. Nothing from the file is ever executed.

    python -m dyweight_core.official SRC -o DST.yaml [--resolution 1024]
"""
import argparse
import collections
import io
import math
import os
import pickle
import sys

import torch

from .table import CoefficientTable, TableError, save_table

SD_BETAS = (0.00085, 0.012)      # Stable Diffusion 1.x scaled-linear betas
LSUN_LDM_BETAS = (0.0015, 0.0195)
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


# --- schedules they were trained on ----------------------------------------------------------------
def polynomial_sigmas(points, sigma_min, sigma_max, rho):
    i = torch.arange(points, dtype=torch.float64) / (points - 1)
    return ((sigma_max ** (1 / rho) + i * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho).tolist()


def discrete_log_sigmas(betas):
    """log sigma of the 1000 training timesteps of a scaled-linear beta schedule, increasing."""
    beta = torch.linspace(betas[0] ** 0.5, betas[1] ** 0.5, 1000, dtype=torch.float64) ** 2
    alphas_cumprod = torch.cumprod(1 - beta, 0)
    return (((1 - alphas_cumprod) / alphas_cumprod) ** 0.5).log()


def discrete_sigmas(points, sigma_min, sigma_max, betas):
    """LDM discrete schedule, rho 1: uniform in the 1000-step timestep index, clamped to the model's range."""
    log_sigmas = discrete_log_sigmas(betas)
    lo, hi = max(sigma_min, log_sigmas[0].exp().item()), min(sigma_max, log_sigmas[-1].exp().item())
    index = lambda s: torch.searchsorted(log_sigmas, torch.tensor(math.log(s), dtype=torch.float64)).item()
    t = torch.linspace(min(index(hi), 999), max(index(lo), 0), points, dtype=torch.float64)
    low = t.floor().long().clamp(max=998)
    frac = t - low
    return ((1 - frac) * log_sigmas[low] + frac * log_sigmas[low + 1]).exp().tolist()


def flux_sigmas(steps, resolution=1024):
    """FLUX.1's schedule: linspace(1, 1/N, N) time-shifted with mu from the image sequence length, then 0."""
    seq = (resolution // 16) ** 2
    mu = 0.5 + (1.15 - 0.5) * (seq - 256) / (4096 - 256)
    t = torch.linspace(1, 1 / steps, steps, dtype=torch.float64)
    return (math.exp(mu) / (math.exp(mu) + (1 / t - 1))).tolist() + [0.0]


def schedule_for(table, resolution=1024, denoise=1.0):
    """The sigmas to run `table` on: FLUX tables follow the resolution (and denoise, as ComfyUI's
    schedulers do: the tail of a longer schedule); other tables have the fixed schedule they record."""
    if table.model.get("family") == "Flux" and table.convention == "velocity":
        total = max(table.steps, int(table.steps / denoise))
        return flux_sigmas(total, resolution)[-(table.steps + 1):]
    if denoise < 0.9999:
        raise TableError(f"table '{table.label}' records one fixed schedule; denoise {denoise} needs a table "
                         f"calibrated for it (DyWeight Calibrate on the img2img schedule)")
    return list(table.sigmas)


# --- importers -------------------------------------------------------------------------------------
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
        t_scale=raw["dyweight_t_scales"].double().tolist(), sigmas=flux_sigmas(steps, resolution),
        convention="velocity", afs=False, model={"family": "Flux", "model_type": "FLUX", "shift": None},
        provenance={"source": f"official FLUX.1-dev table {os.path.basename(path)}", "teacher": "euler 28 steps",
                    "cfg": 1.0, "guidance": 3.5, "resolution": resolution},
        name=os.path.splitext(os.path.basename(path))[0]).validate()


def import_snapshot(path):
    data = read_snapshot(path)
    state = data["predictor"]["state"]
    loss = (data.get("loss_fn") or {}).get("state", {})
    params, buffers = state.get("_parameters", {}), state.get("_buffers", {})
    if "hybrid_weights" not in params or "t_scale" not in params:
        raise ImportRefused("predictor has no hybrid_weights / t_scale")
    weights = params["hybrid_weights"].double()
    if buffers.get("mask") is not None:
        weights = weights * buffers["mask"].double()
    steps = weights.shape[0]
    points = int(state.get("num_steps", steps + 1))
    dataset = str(loss.get("dataset_name", "unknown"))
    smin, smax = float(loss.get("sigma_min", 0.002)), float(loss.get("sigma_max", 80.0))
    betas = LSUN_LDM_BETAS if "lsun" in dataset else SD_BETAS
    if loss.get("schedule_type", "polynomial") == "discrete":
        sigmas = discrete_sigmas(points, smin, smax, betas)
    else:
        if dataset in DATASET_FAMILY:  # latent models: clamp to the model's sigma range
            log_sigmas = discrete_log_sigmas(betas)
            smin, smax = max(smin, log_sigmas[0].exp().item()), min(smax, log_sigmas[-1].exp().item())
        sigmas = polynomial_sigmas(points, smin, smax, float(loss.get("schedule_rho", 7.0)))
    family, model_type = DATASET_FAMILY.get(dataset, (f"EDM-{dataset}", "EDM"))
    window = int(state.get("effective_window_size") or state.get("max_history_steps") or steps)
    return CoefficientTable(
        steps=steps, window=window, weights=weights.tolist(), t_scale=params["t_scale"].double().reshape(-1).tolist(),
        sigmas=sigmas, convention="denoiser", afs=bool(state.get("afs", False)),
        model={"family": family, "model_type": model_type, "shift": None},
        provenance={"source": f"official table {os.path.basename(path)} ({dataset})",
                    "teacher": f"{loss.get('teacher_steps', '?')} steps", "loss": loss.get("loss_type"),
                    "cfg": float(state.get("guidance_rate") or 1.0), "schedule": loss.get("schedule_type")},
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
