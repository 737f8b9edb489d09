"""The `dyweight` sampler and scheduler in ComfyUI: dropdown registration, table lookup for a MODEL, DyWeight Sampler."""
import contextlib
import logging

import torch

import comfy.k_diffusion.sampling
import comfy.samplers
from .api import io

from ..dyweight_core import solver
from ..dyweight_core.lookup import SCHEDULER, choose_table, scheduler_sigmas, sigmas_match
from ..dyweight_core.table import TableError, TableSet, adams_bashforth_table
from .model_info import continuous_sampling, find_patcher, model_identity, sampling_description
from .table_folders import TABLE, usable_tables

SAMPLER_NAME = "dyweight"


def resolve_table(model, sigmas, table=None):
    """The table a sampling run uses: the connected one (warn on mismatch), a looked-up one, or the fallback.
    Looking up never stops sampling: whatever goes wrong there is a warning and the fallback."""
    steps = len(sigmas) - 1
    if isinstance(table, TableSet):
        table = table.for_steps(steps)
    if table is not None:
        if table.steps != steps:
            raise TableError(f"table '{table.label}' is for {table.steps} steps, but this run samples {steps} "
                             f"(steps, denoise and start/end step decide it); use a table made for {steps} steps")
        family = identity_or_none(model).get("family")
        if table.model.get("family") not in (None, family):
            logging.warning(f"[DyWeight] table '{table.label}' was made for {table.model.get('family')}, this model is {family}: using it as connected")
        if not sigmas_match(table.sigmas, sigmas):
            logging.warning(f"[DyWeight] table '{table.label}' was calibrated on other sigmas than this schedule: using it as connected (DyWeight Scheduler gives its own)")
        return table
    try:
        chosen, message = choose_table(usable_tables(), model_identity(model), sigmas)
    except Exception as e:  # a table or a model we do not understand: say so, sample anyway
        chosen, message = None, f"[DyWeight] table lookup failed ({type(e).__name__}: {e}): using the Adams-Bashforth fallback (= ipndm)"
        logging.warning(message)
    else:
        logging.info(message)
    return chosen if chosen is not None else adams_bashforth_table(sigmas)


def identity_or_none(model):
    try:
        return model_identity(model)
    except Exception as e:
        logging.warning(f"[DyWeight] cannot tell which model this is ({type(e).__name__}: {e})")
        return {}


@contextlib.contextmanager
def timesteps_as_calibrated(model, table):
    """A table calibrated with interpolated timesteps (discrete SD schedules) samples with them too,
    so the model sees exactly the times it was fitted at; restored afterwards."""
    continuous = None
    if table.provenance.get("timestep") == "continuous":
        try:
            base = find_patcher(model).model
            continuous = continuous_sampling(base.model_sampling)
        except TypeError as e:
            logging.warning(f"[DyWeight] table '{table.label}' was made with continuous timesteps, but {e}: sampling with the model's own")
    if continuous is None:
        yield
        return
    original, base.model_sampling = base.model_sampling, continuous
    try:
        yield
    finally:
        base.model_sampling = original


def sample_dyweight(model, x, sigmas, extra_args=None, callback=None, disable=None, table=None):
    """DyWeight: learned multistep ODE solver; finds the table for the model when none is given."""
    table = resolve_table(model, sigmas.tolist(), table)
    with timesteps_as_calibrated(model, table):
        return solver.sample_with_table(model, x, sigmas, extra_args=extra_args, callback=callback, disable=disable, table=table)


def dyweight_scheduler(model_sampling, steps):
    """The `dyweight` scheduler: the sigmas the matching table was trained on, else a documented formula."""
    sigmas, message = scheduler_sigmas(usable_tables(), sampling_description(model_sampling), steps)
    logging.info(message)
    return torch.tensor(sigmas, dtype=torch.float32)


def register_sampler():
    """Put `dyweight` into the sampler dropdowns (KSampler, KSamplerAdvanced, KSamplerSelect) and the
    scheduler dropdowns. The name lists are shared by every node and pack: extended in place, never rebound."""
    comfy.k_diffusion.sampling.sample_dyweight = sample_dyweight
    comfy.samplers.SCHEDULER_HANDLERS[SCHEDULER] = comfy.samplers.SchedulerHandler(dyweight_scheduler, use_ms=True)
    for names, name in ((comfy.samplers.KSampler.SAMPLERS, SAMPLER_NAME), (comfy.samplers.SAMPLER_NAMES, SAMPLER_NAME),
                        (comfy.samplers.KSampler.SCHEDULERS, SCHEDULER), (comfy.samplers.SCHEDULER_NAMES, SCHEDULER)):
        if name not in names:
            names.append(name)


class DyWeightSampler(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="DyWeightSampler", display_name="DyWeight Sampler", category="sampling/custom_sampling/samplers",
            description="Learned few-step ODE sampler. Without a table it finds the one for the model and step count, "
                        "or runs the Adams-Bashforth fallback (= ipndm) and says so in the console.",
            inputs=[TABLE.Input("table", optional=True,
                                tooltip="A coefficient table to use as given (tables for several step counts: the one for the "
                                        "run's step count). Leave unconnected for automatic lookup.")],
            outputs=[io.Sampler.Output()],
        )

    @classmethod
    def execute(cls, table=None) -> io.NodeOutput:
        options = {} if table is None else {"table": table}
        return io.NodeOutput(comfy.samplers.KSAMPLER(sample_dyweight, extra_options=options))
