"""Finding tables on disk and choosing one for a model and schedule (the rules: docs/how-it-works.md, How tables are found)."""
import math
import os

from . import schedules
from .schedules import table_sigmas
from .table import TableError, load_table

SCHEDULER = "dyweight"
SIGMA_RTOL = 1e-3
_cache = {}  # path -> (mtime_ns, size, table or TableError)


def scan_tables(folders):
    """[(path, table_or_error)] for every *.yaml / *.yml in `folders`; a broken file never breaks the list."""
    found = []
    for folder in folders:
        if not folder or not os.path.isdir(folder):
            continue
        for entry in sorted(os.listdir(folder)):
            if entry.startswith(".") or not entry.lower().endswith((".yaml", ".yml")):
                continue
            path = os.path.join(folder, entry)
            found.append((path, read_cached(path)))
    return found


def read_cached(path):
    """load_table with a (mtime, size) cache; returns the table or the TableError."""
    try:
        st = os.stat(path)
    except OSError as e:
        return TableError(f"table file '{path}': {e.strerror}")
    key = (st.st_mtime_ns, st.st_size)
    hit = _cache.get(path)
    if hit and hit[0] == key:
        return hit[1]
    try:
        result = load_table(path)
    except TableError as e:
        result = e
    _cache[path] = (key, result)
    return result


def sigmas_match(a, b, rtol=SIGMA_RTOL):
    a, b = [float(v) for v in a], [float(v) for v in b]
    return len(a) == len(b) and all(math.isclose(x, y, rel_tol=rtol, abs_tol=1e-6) for x, y in zip(a, b))


def same_range(a, b, rtol=SIGMA_RTOL):
    """Same first and last sigma: another scheduler over the same span, not a partial (img2img) schedule."""
    return sigmas_match([a[0], a[-1]], [b[0], b[-1]], rtol)


def identity_rank(table_model, identity):
    """0: same weight fingerprint; 1: same family and model type; None: not for this model.
    A flow shift (FLUX's follows the image size) changes the schedule, not the model: the sigma
    comparison in choose_table sees it."""
    fp = identity.get("fingerprint")
    if fp and table_model.get("fingerprint") == fp:
        return 0
    if table_model.get("family") != identity.get("family") or table_model.get("model_type") != identity.get("model_type"):
        return None
    return 1


def part_rank(table, identity, start=0, stop=None):
    """identity_rank for running steps start..stop of `table` (the whole schedule by default). A pair's table
    (DyWeight Calibrate with model_low_noise) runs only as the split run it was fitted for: its first model on the
    steps before the switch, its low-noise model on the rest, never one model on all of it."""
    low = table.model.get("low_noise_model")
    if not low:
        return identity_rank(table.model, identity)
    switch, stop = table.provenance.get("switch_step"), table.steps if stop is None else stop
    if (start, stop) == (0, switch):
        return identity_rank(table.model, identity)
    if (start, stop) == (switch, table.steps):
        return identity_rank(low, identity)
    return None


def describe(identity, steps):
    shift = f", shift {identity['shift']:g}" if identity.get("shift") is not None else ""
    return f"{identity.get('family')}/{identity.get('model_type')}{shift}, {steps} steps"


def expected_sigmas(table, identity):
    """The schedule `table` is meant to run on for this model (FLUX tables: at the model's shift)."""
    return table_sigmas(table, mu=identity.get("shift"))


def owns_schedule(table):
    """Made on the `dyweight` scheduler: the authors' tables, and calibrations with learned sigmas."""
    return table.provenance.get("scheduler") == SCHEDULER


def schedule_hint(table):
    """Where `table` does run automatically: the scheduler it was made on, or DyWeight Scheduler."""
    scheduler = table.provenance.get("scheduler")
    if scheduler:
        return f"scheduler={scheduler} would use table '{table.label}'"
    return f"DyWeight Scheduler would run table '{table.label}' on its own sigmas"


def choose_table(tables, identity, sigmas):
    """Pick the best table for `identity` and `sigmas`: (table or None, one-line message).

    A table runs automatically only on the schedule it was fitted on: on other sigmas nothing says it beats
    the fallback (a table with learned sigmas, run on the karras sigmas it started from, can do worse than
    ipndm), so those take the fallback and the message names the scheduler that would use the table."""
    sigmas = [float(s) for s in sigmas]
    steps = len(sigmas) - 1
    best, other_schedule = None, []
    for table in tables:
        rank = part_rank(table, identity)
        if rank is None or table.steps != steps:
            continue
        if not sigmas_match(expected_sigmas(table, identity), sigmas):
            other_schedule.append(table)
            continue
        if best is None or rank < best[0]:
            best = (rank, table)
    if best is None:
        fallback = f"[DyWeight] no table for {describe(identity, steps)}"
        if other_schedule:
            partial = not any(same_range(expected_sigmas(t, identity), sigmas) for t in other_schedule)
            what = "another sigma range (denoise, start/end step)" if partial else "another schedule"
            fallback += f" on these sigmas (tables for {steps} steps exist, made for {what})"
        fallback += ": using the Adams-Bashforth fallback (= ipndm)"
        if other_schedule:
            fallback += "; " + schedule_hint(sorted(other_schedule, key=lambda t: not owns_schedule(t))[0])
        return None, fallback
    rank, table = best
    how = "weight fingerprint" if rank == 0 else "family"
    if rank == 1 and table.model.get("weights") and table.model.get("weights") == identity.get("weights"):
        how = (f"family; the same checkpoint, but calibrated with patches '{table.model.get('patches') or 'none'}' "
               f"and sampled with '{identity.get('patches') or 'none'}'")
    source = f" (from {table.provenance['source']})" if table.provenance.get("source") else ""
    return table, f"[DyWeight] using table '{table.label}' ({how} match) for {describe(identity, steps)}{source}"


def part_start(whole, sigmas):
    """Where `sigmas` lie in the schedule `whole` as consecutive steps (a KSamplerAdvanced start/end step run), or None."""
    n = len(sigmas) - 1
    return next((k for k in range(1 if len(whole) - 1 == n else 0, len(whole) - n)
                 if sigmas_match(whole[k:k + n + 1], sigmas)), None)


def choose_part(tables, identity, sigmas):
    """For a run over part of a schedule (a sampler split across two KSamplerAdvanced nodes): (table, its whole
    schedule, the index of the part's first step) of the best table for `identity` whose schedule holds `sigmas` as
    consecutive steps, or None."""
    sigmas = [float(s) for s in sigmas]
    found = []
    for table in tables:
        if table.steps < len(sigmas) - 1:
            continue
        whole = [float(s) for s in expected_sigmas(table, identity)]
        start = part_start(whole, sigmas)
        rank = None if start is None else part_rank(table, identity, start, start + len(sigmas) - 1)
        if rank is not None:
            found.append((rank, table.steps, table, whole, start))
    if not found:
        return None
    rank, _, table, whole, start = min(found, key=lambda f: f[:2])
    return table, whole, start


# --- the `dyweight` scheduler -------------------------------------------------------------------------
def scheduler_sigmas(tables, sampling, steps):
    """The `dyweight` scheduler: (sigmas, one-line message) for a model sampling described as
    {kind: discrete | flux | flow | continuous, sigma_min, sigma_max, shift, model_type, family, grid (discrete)}.

    The recorded sigmas of the first table (user folder first) made on this scheduler for `steps`, for a
    model of the same family and prediction type where known (SDXL never gets SD1.5's sigmas), that starts
    where this model's schedule starts; its other sigmas, learned ones included, may end anywhere. Tables
    that follow FLUX's resolution shift get the formula at the current shift, which is what they train on.
    Otherwise the formula: the LDM discrete schedule (discrete), FLUX's or SD3's shifted linspace (flow),
    Karras rho 7 (continuous)."""
    formula, message = formula_sigmas(sampling, steps)
    for table in tables:
        if table.steps == steps and owns_schedule(table) and not schedules.follows_resolution(table) \
                and serves_model(table, sampling) and sigmas_match(table.sigmas[:1], formula[:1]):
            return list(table.sigmas), f"[DyWeight] scheduler: the sigmas of table '{table.label}'"
    return formula, message


def serves_model(table, sampling):
    """Same family, prediction type and (flow models) shift, where both sides know them."""
    known = lambda k: sampling.get(k) is not None and table.model.get(k) is not None
    same = lambda k, match: not known(k) or match(table.model[k], sampling[k])
    return (same("family", str.__eq__) and same("model_type", str.__eq__)
            and same("shift", lambda a, b: math.isclose(a, b, rel_tol=SIGMA_RTOL)))


def formula_sigmas(sampling, steps):
    kind = sampling["kind"]
    if kind == "discrete":
        return schedules.discrete_sigmas(steps + 1, sampling["grid"]), "[DyWeight] scheduler: LDM discrete schedule (no table)"
    if kind == "flux":
        return schedules.flux_sigmas(steps, sampling["shift"]), f"[DyWeight] scheduler: FLUX shifted schedule, mu {sampling['shift']:g}"
    if kind == "flow":
        return schedules.shifted_flow_sigmas(steps, sampling["shift"]), f"[DyWeight] scheduler: shifted flow schedule, shift {sampling['shift']:g}"
    return (schedules.polynomial_sigmas(steps + 1, sampling["sigma_min"], sampling["sigma_max"]),
            "[DyWeight] scheduler: Karras rho 7 schedule (no table)")
