"""Finding tables on disk and choosing one for a model and schedule (DESIGN.md, lookup rules)."""
import math
import os

from .table import TableError, load_table

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
    """0: same weight fingerprint; 1: same family and model type (and shift); None: not for this model."""
    fp = identity.get("fingerprint")
    if fp and table_model.get("fingerprint") == fp:
        return 0
    if table_model.get("family") != identity.get("family") or table_model.get("model_type") != identity.get("model_type"):
        return None
    shift_t, shift_m = table_model.get("shift"), identity.get("shift")
    if shift_t is not None and shift_m is not None and not math.isclose(float(shift_t), float(shift_m), rel_tol=1e-3):
        return None
    return 1


def describe(identity, steps):
    shift = f", shift {identity['shift']:g}" if identity.get("shift") is not None else ""
    return f"{identity.get('family')}/{identity.get('model_type')}{shift}, {steps} steps"


def choose_table(tables, identity, sigmas):
    """Pick the best table for `identity` and `sigmas`: (table or None, one-line message)."""
    sigmas = [float(s) for s in sigmas]
    steps = len(sigmas) - 1
    best, other_range = None, False
    for table in tables:
        rank = identity_rank(table.model, identity)
        if rank is None or table.steps != steps:
            continue
        if not same_range(table.sigmas, sigmas):
            other_range = True  # a full-schedule table must not drive a partial schedule, or vice versa
            continue
        key = (0 if sigmas_match(table.sigmas, sigmas) else 1, rank)
        if best is None or key < best[0]:
            best = (key, table)
    if best is None:
        why = f" (tables for {steps} steps exist, but for another sigma range: denoise, start/end step)" if other_range else ""
        return None, f"[DyWeight] no table for {describe(identity, steps)}{why}: using the Adams-Bashforth fallback (= ipndm)"
    (schedule_miss, rank), table = best
    how = "weight fingerprint" if rank == 0 else "family"
    if schedule_miss:
        return table, (f"[DyWeight] using table '{table.label}' ({how} match) for {describe(identity, steps)}, "
                       f"but its sigmas differ from this schedule: results may be off; calibrate for this scheduler")
    return table, f"[DyWeight] using table '{table.label}' ({how} match) for {describe(identity, steps)}"
