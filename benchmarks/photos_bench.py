"""The shared part of the Photos-32 benchmarks: the built-in trained network loaded by ComfyUI, the held-out noises
and their 200-step references, sampling and calibrating on them through the node's own code, and the arguments
every experiment takes. One experiment per file: photos_quality (the table), photos_sweep, photos_seeds,
photos_ceiling, photos_curve; photos_time times one calibration."""
import argparse
import copy
import math
import os
import time

import torch

from tooling.measure import PeakRSS
from tooling.pack import load_pack
from tooling.paths import ROOT
from tooling.samplers import BUILTINS

HERE = os.path.dirname(os.path.realpath(__file__))
RESULTS = os.path.join(HERE, "results")
STEPS, CFGS = [3, 4, 5, 6, 7, 8], [1.0, 5.0]
EVAL_SEED, EVAL_COUNT, REFERENCE_STEPS = 777, 64, 200
ALL, GROUP_A, GROUP_B = list(range(8)), [0, 1, 2, 3], [4, 5, 6, 7]
CACHE = os.path.join(ROOT, ".cache", "photos_reference")


class Bench:
    """The loaded model, held-out noises and references; sampling and calibrating on them."""

    def __init__(self):
        load_pack()
        import comfy.sample
        import comfy.samplers
        from comfyui_dyweight.nodes.photos import class_conditioning, load_photos_model
        from comfyui_dyweight.dyweight_core import photos
        self.comfy_sample, self.samplers = comfy.sample, comfy.samplers
        with torch.inference_mode():
            self.model = load_photos_model()
        self.sampling = self.model.get_model_object("model_sampling")
        size = photos.IMAGE_SIZE // photos.PATCH
        self.shape = (photos.LATENT_CHANNELS, size, size)
        self.prompt = lambda classes: [[torch.cat([photos.class_context([k]) for k in classes]), {}]]
        self.negative = class_conditioning([])
        self.use_noises(EVAL_SEED)

    def use_noises(self, eval_seed):
        """The held-out noises everything is judged on (and their references, computed when first asked for)."""
        self.eval_seed, self.references = eval_seed, {}
        self.noise = torch.randn((EVAL_COUNT,) + self.shape, generator=torch.Generator().manual_seed(eval_seed))

    def on_other_noises(self, eval_seed):
        """The same loaded model judged on another set of held-out noises."""
        other = copy.copy(self)
        other.use_noises(eval_seed)
        return other

    def sigmas(self, scheduler, steps):
        return self.samplers.calculate_sigmas(self.sampling, scheduler, steps).cpu()

    def run(self, sampler, sigmas, cfg, classes):
        """Sample the held-out noises: latent i asks for classes[i mod len(classes)]."""
        with torch.inference_mode():
            return self.comfy_sample.sample_custom(self.model, self.noise, cfg, sampler, sigmas.clone(), self.prompt(classes),
                                                   self.negative, torch.zeros_like(self.noise), disable_pbar=True, seed=0)

    def reference(self, cfg, classes):
        """The ODE's endpoint: 200 ipndm (fourth-order) steps on karras, cached on disk."""
        key = f"cfg{cfg:g}_{'-'.join(map(str, classes))}_{self.eval_seed}_{EVAL_COUNT}_{REFERENCE_STEPS}"
        path = os.path.join(CACHE, key + ".pt")
        if key not in self.references:
            if os.path.exists(path):
                self.references[key] = torch.load(path)
            else:
                ref = self.run(self.samplers.sampler_object("ipndm"), self.sigmas("karras", REFERENCE_STEPS), cfg, classes)
                os.makedirs(CACHE, exist_ok=True)
                torch.save(ref, path)
                self.references[key] = ref
        return self.references[key]

    def noise_errors(self, sampler, sigmas, cfg, classes):
        """Each held-out noise's endpoint error (RMSE against the reference)."""
        from comfyui_dyweight.dyweight_core.calibrate import per_sample_rmse
        return per_sample_rmse(self.run(sampler, sigmas, cfg, classes).double(), self.reference(cfg, classes)).cpu()

    def error(self, sampler, sigmas, cfg, classes):
        return self.noise_errors(sampler, sigmas, cfg, classes).median().item()

    def builtin_noise_errors(self, scheduler, steps, cfg, classes=ALL):
        sigmas = self.sigmas(scheduler, steps)
        return {name: self.noise_errors(self.samplers.sampler_object(name), sigmas, cfg, classes) for name in BUILTINS}

    def builtin_errors(self, scheduler, steps, cfg, classes=ALL):
        """Every built-in's error, and the name of the best."""
        return medians(self.builtin_noise_errors(scheduler, steps, cfg, classes))

    def calibrate(self, steps, cfg, classes=ALL, scheduler="karras", core=None, fit=None, start=None, **settings):
        """DyWeight Calibrate's own code path (nodes.calibrate.calibrate_with_inputs), with the node's defaults unless
        `settings` (node inputs) or `core` (CalibrationConfig fields the node does not expose) override them; `fit` and
        `start` replace the calibration core and the seeded noises. Returns (table, {seconds, peak_mb, core: report});
        with the input step_counts, ([tables], {..., core: [reports]})."""
        from comfyui_dyweight.nodes import calibrate as node
        from comfyui_dyweight.nodes.teacher_cache import TEACHER_CACHES
        seams = {k: v for k, v in (("fit", fit), ("start", start)) if v is not None}
        TEACHER_CACHES.clear()  # every timing is a first calibration, teacher included
        with PeakRSS() as mem:
            started = time.time()
            results = node.calibrate_with_inputs(self.model, self.prompt(classes), self.negative,
                                                 {"samples": torch.zeros((1,) + self.shape)}, steps, scheduler, cfg,
                                                 core=core, **seams, **settings)
            seconds = time.time() - started
        tables, reports = [t for t, _ in results], [r for _, r in results]
        several = len(results) > 1
        return (tables if several else tables[0]), {"seconds": seconds, "peak_mb": mem.peak / 2 ** 20,
                                                    "core": reports if several else reports[0]}

    def ceiling(self, steps, cfg, **settings):
        """What a table can reach at all: DyWeight Calibrate's code path trained, chosen and tested on the benchmark's
        own 64 noises against the 200-step reference itself (chosen by the median, the benchmark's statistic), so
        neither the teacher's error nor generalisation to other noises limits it. Not a calibration a user can run."""
        from comfyui_dyweight.dyweight_core.calibrate import calibrate_together, teacher_key
        reference = self.reference(cfg, ALL).cpu()

        def own_noises(sampling, sigmas, latent, count, seed, device, max_denoise):
            return sampling.noise_scaling(sigmas[0], self.noise, latent[:1].expand_as(self.noise), max_denoise).to(device)

        def against_reference(denoise, runs, train, hold, teacher_cache=None, **kwargs):
            cache = {teacher_key(config, sigmas, [train, hold, kwargs["test_x"]]): (reference,) * 3 for sigmas, config in runs}
            return calibrate_together(denoise, runs, train, hold, teacher_cache=cache, **kwargs)
        return self.calibrate(steps, cfg, core={"select": "median"}, fit=against_reference, start=own_noises, **settings)

    def table_noise_errors(self, table, cfg, classes=ALL):
        from comfyui_dyweight.nodes.sampler import DyWeightSampler
        sampler = DyWeightSampler.execute(table=table).result[0]
        return self.noise_errors(sampler, torch.tensor(table.sigmas), cfg, classes)

    def table_error(self, table, cfg, classes=ALL):
        return self.table_noise_errors(table, cfg, classes).median().item()


def medians(noise_errors):
    """Each sampler's median error over the held-out noises, and the name of the best built-in among them."""
    errors = {name: e.median().item() for name, e in noise_errors.items()}
    return errors, min(BUILTINS, key=errors.get)


def gmean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values))


def arguments(doc, steps=STEPS):
    """The arguments every experiment takes (--steps, --cfg, --out); add your own, then call start()."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, nargs="+", default=steps)
    ap.add_argument("--cfg", type=float, nargs="+", default=CFGS)
    ap.add_argument("--out", default=RESULTS)
    return ap


def start(args):
    """Two threads (the machine the numbers are for), the output folder, and the loaded Bench."""
    torch.set_num_threads(2)
    os.makedirs(args.out, exist_ok=True)
    return Bench()
