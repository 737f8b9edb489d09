"""The `dyweight` sampler and scheduler in ComfyUI: dropdown registration, table lookup for a MODEL, DyWeight Sampler."""
import contextlib
import logging

import torch

import comfy.k_diffusion.sampling
import comfy.samplers
from .api import io

from ..dyweight_core import solver
from ..dyweight_core.lookup import SCHEDULER, choose_part, choose_table, part_start, scheduler_sigmas, sigmas_match
from ..dyweight_core.split_runs import SplitRuns
from ..dyweight_core.table import TableError, TableSet, adams_bashforth_table
from .model_info import continuous_sampling, find_patcher, model_identity, sampling_description
from .table_folders import TABLE, usable_tables

SAMPLER_NAME = "dyweight"
SPLIT_RUNS = SplitRuns()  # the history a split run's first part leaves for the part that continues it


def resolve_table(model, sigmas, table=None):
    """(table, part) for a sampling run: the connected table (warn on mismatch), a looked-up one, or the fallback;
    part (a solver.Part, or None for a whole schedule) when the run is a part of the table's schedule, as
    KSamplerAdvanced's start/end steps make. Looking up never stops sampling: whatever goes wrong there is a
    warning and the fallback."""
    steps = len(sigmas) - 1
    if isinstance(table, TableSet):  # the set's table for this step count, or whose schedule holds this part
        holding = [t for t in table.tables if t.steps == steps or (t.steps > steps and part_start(t.sigmas, sigmas) is not None)]
        table = holding[0] if holding else table.for_steps(steps)  # for_steps: the error that names the counts
    if table is not None:
        return connected_table(model, sigmas, table)
    try:
        identity = model_identity(model)
        tables = usable_tables()
        chosen, message = choose_table(tables, identity, sigmas)
        part = choose_part(tables, identity, sigmas) if chosen is None else None
    except Exception as e:  # a table or a model we do not understand: say so, sample anyway
        chosen, part, message = None, None, f"[DyWeight] table lookup failed ({type(e).__name__}: {e}): using the Adams-Bashforth fallback (= ipndm)"
        logging.warning(message)
    else:
        if part is not None:
            chosen, whole, start = part
            message = (f"[DyWeight] using steps {start + 1}-{start + steps} of table '{chosen.label}' ({chosen.steps} steps) "
                       f"for this part of a split run")
            part = solver.Part(whole, start)
        logging.info(message)
    return (chosen, part) if chosen is not None else (adams_bashforth_table(sigmas), None)


def connected_table(model, sigmas, table):
    """A table connected to DyWeight Sampler runs as given: on the run's schedule, or on its part of the table's own."""
    steps = len(sigmas) - 1
    part = None
    if table.steps != steps:
        start = part_start(table.sigmas, sigmas) if table.steps > steps else None
        if start is None:
            raise TableError(f"table '{table.label}' is for {table.steps} steps, but this run samples {steps} "
                             f"(steps, denoise and start/end step decide it); use a table made for {steps} steps")
        part = solver.Part([float(s) for s in table.sigmas], start)
    family = identity_or_none(model).get("family")
    if table.model.get("family") not in (None, family):
        logging.warning(f"[DyWeight] table '{table.label}' was made for {table.model.get('family')}, this model is {family}: using it as connected")
    if part is None and not sigmas_match(table.sigmas, sigmas):
        logging.warning(f"[DyWeight] table '{table.label}' was calibrated on other sigmas than this schedule: using it as connected (DyWeight Scheduler gives its own)")
    return table, part


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
    table, part = resolve_table(model, sigmas.tolist(), table)
    if part is not None and part.start > 0:
        part.history = SPLIT_RUNS.history_for(table, part.start, x)
        if part.history is None:  # its rows expect the earlier steps' derivatives: without them, the fallback
            logging.info(f"[DyWeight] this part of a split run does not continue a dyweight run of table '{table.label}' "
                         f"(the first part used another sampler or table): using the Adams-Bashforth fallback (= ipndm)")
            table, part = adams_bashforth_table(sigmas.tolist()), None
    with timesteps_as_calibrated(model, table):
        out = solver.sample_with_table(model, x, sigmas, extra_args=extra_args, callback=callback, disable=disable,
                                       table=table, part=part)
    if part is not None and part.start + len(sigmas) - 1 < table.steps:  # a later part may continue from here
        SPLIT_RUNS.remember(table, part.start + len(sigmas) - 1, out, part.history)
    return out


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
