"""CoefficientTable: the learned state of DyWeight, its YAML format, validation and fallback.

Format `dyweight-table/1` (see coefficients/README.md). Unknown versions are refused, never guessed.
"""
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import yaml

FORMAT = "dyweight-table/1"
CONVENTIONS = ("denoiser", "velocity")
AB_ROWS = ([1.0], [3 / 2, -1 / 2], [23 / 12, -16 / 12, 5 / 12], [55 / 24, -59 / 24, 37 / 24, -9 / 24])


class TableError(ValueError):
    """A table that cannot be used; the message names the table and the problem."""


@dataclass
class CoefficientTable:
    steps: int
    window: int
    weights: list            # steps x steps, lower-triangular, banded to `window`
    t_scale: list            # steps entries (steps - 1 with AFS: none for the analytical first step)
    sigmas: list             # steps + 1 schedule points the table was made for
    convention: str = "denoiser"
    afs: bool = False
    model: dict = field(default_factory=dict)       # family, model_type, shift, fingerprint
    provenance: dict = field(default_factory=dict)  # source, teacher, cfg, loss, errors, date, ...
    name: str = ""           # file stem or label; not serialised

    @property
    def label(self):
        return self.name or self.provenance.get("source", "unnamed table")

    def validate(self):
        """Raise TableError naming the first problem found; return self when usable."""
        def fail(msg):
            raise TableError(f"table '{self.label}': {msg}")

        if not isinstance(self.steps, int) or self.steps < 1:
            fail(f"steps must be a positive integer, got {self.steps!r}")
        if not isinstance(self.window, int) or self.window < 1:
            fail(f"window must be a positive integer, got {self.window!r}")
        if self.convention not in CONVENTIONS:
            fail(f"convention must be one of {CONVENTIONS}, got {self.convention!r}")
        n = self.steps
        rows = _matrix(self.weights, fail, "weights")
        if len(rows) != n or any(len(r) != n for r in rows):
            fail(f"weights must be {n} x {n} for {n} steps, got {len(rows)} rows of lengths {sorted({len(r) for r in rows})}")
        for i, row in enumerate(rows):
            for j, w in enumerate(row):
                if not math.isfinite(w):
                    fail(f"weights[{i}][{j}] is {w} (must be finite)")
                if w != 0.0 and not (i - self.window < j <= i):
                    fail(f"weights[{i}][{j}] = {w} lies outside the band of window {self.window} (row {i} may use columns {max(0, i - self.window + 1)}..{i})")
        n_scale = n - 1 if self.afs else n
        scales = _vector(self.t_scale, fail, "t_scale")
        if len(scales) != n_scale:
            fail(f"t_scale must have {n_scale} entries ({n} steps{', AFS' if self.afs else ''}), got {len(scales)}")
        if any(not math.isfinite(s) or s <= 0 for s in scales):
            fail(f"t_scale entries must be finite and positive, got {scales}")
        sig = _vector(self.sigmas, fail, "sigmas")
        if len(sig) != n + 1:
            fail(f"sigmas must have steps + 1 = {n + 1} entries, got {len(sig)}")
        if any(not math.isfinite(s) or s < 0 for s in sig):
            fail(f"sigmas must be finite and non-negative, got {sig}")
        if any(b >= a for a, b in zip(sig, sig[1:])):
            fail(f"sigmas must be strictly decreasing, got {sig}")
        if not isinstance(self.model, dict):
            fail("'model' must be a mapping")
        for key in ("family", "model_type", "fingerprint", "weights", "patches"):
            if not isinstance(self.model.get(key), (str, type(None))):
                fail(f"model.{key} must be text, got {self.model.get(key)!r}")
        shift = self.model.get("shift")
        if shift is not None and (isinstance(shift, bool) or not isinstance(shift, (int, float)) or not math.isfinite(shift)):
            fail(f"model.shift must be a number or null, got {shift!r}")
        low = self.model.get("low_noise_model")
        if low is not None:  # a pair's table (DyWeight Calibrate with model_low_noise): its second model and switch step
            if not isinstance(low, dict) or not all(isinstance(low.get(k), (str, type(None))) for k in ("family", "model_type", "fingerprint")):
                fail(f"model.low_noise_model must be a mapping of text (family, model_type, fingerprint), got {low!r}")
            switch = (self.provenance or {}).get("switch_step")
            if isinstance(switch, bool) or not isinstance(switch, int) or not 1 <= switch < n:
                fail(f"a pair's table needs provenance.switch_step from 1 to {n - 1}, got {switch!r}")
        return self

    # --- serialisation ---------------------------------------------------------------------
    def to_dict(self):
        d = asdict(self)
        d.pop("name")
        return {"format": FORMAT, **d}

    @classmethod
    def from_dict(cls, data, name=""):
        label = name or "table"
        if not isinstance(data, dict):
            raise TableError(f"table '{label}': expected a YAML mapping, got {type(data).__name__}")
        fmt = data.get("format")
        if fmt != FORMAT:
            raise TableError(f"table '{label}': unsupported format {fmt!r} (this version reads {FORMAT!r}; update the pack for newer tables)")
        known = {"steps", "window", "weights", "t_scale", "sigmas", "convention", "afs", "model", "provenance"}
        missing = {"steps", "window", "weights", "t_scale", "sigmas"} - set(data)
        if missing:
            raise TableError(f"table '{label}': missing field(s) {sorted(missing)}")
        fields = {k: v for k, v in data.items() if k in known}
        for key in ("model", "provenance"):
            if fields.get(key) is None:
                fields[key] = {}
            elif not isinstance(fields[key], dict):
                raise TableError(f"table '{label}': '{key}' must be a mapping")
        fields["afs"] = bool(fields.get("afs", False))
        return cls(name=name, **fields).validate()

    def replace(self, **changes):
        return replace(self, **changes)


def _vector(value, fail, what):
    if not isinstance(value, (list, tuple)):
        fail(f"{what} must be a list of numbers, got {type(value).__name__}")
    try:
        return [float(v) for v in value]
    except (TypeError, ValueError):
        fail(f"{what} must contain only numbers, got {value!r}")


def _matrix(value, fail, what):
    if not isinstance(value, (list, tuple)) or not all(isinstance(r, (list, tuple)) for r in value):
        fail(f"{what} must be a list of rows")
    return [_vector(r, fail, what) for r in value]


class TableSet:
    """The tables of one calibration for several step counts (DyWeight Calibrate's step_counts): Save Table writes one
    file each, DyWeight Sampler runs the one for the run's step count."""

    def __init__(self, tables):
        self.tables = sorted(tables, key=lambda t: t.steps)
        counts = [t.steps for t in self.tables]
        if not counts or len(set(counts)) != len(counts):
            raise TableError(f"a table set needs one table per step count, got counts {counts}")

    @property
    def label(self):
        return ", ".join(t.label for t in self.tables)

    @property
    def counts(self):
        return [t.steps for t in self.tables]

    def for_steps(self, steps):
        for t in self.tables:
            if t.steps == steps:
                return t
        raise TableError(f"the connected tables are for {', '.join(map(str, self.counts))} steps, but this run samples "
                         f"{steps} (steps, denoise and start/end step decide it): calibrate {steps} too, or sample one of those")


def tables_in(value):
    """The tables of a DYWEIGHT_TABLE value: a table, or a set's tables."""
    return list(value.tables) if isinstance(value, TableSet) else [value]


def table_from_text(text, name="inline table"):
    """A table from its YAML text (a file's or a workflow's), validated as every table is; several YAML documents
    (what Table as Text shows for a table set) give a TableSet."""
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as e:
        raise TableError(f"table '{name}': cannot be read as YAML ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    if len(documents) > 1:
        return TableSet([CoefficientTable.from_dict(d, name=f"{name} ({k + 1})") for k, d in enumerate(documents)])
    return CoefficientTable.from_dict(documents[0] if documents else None, name=name)


def table_to_text(table):
    """The YAML text of a validated table (or a set's tables, one YAML document each): what save_table writes and an
    inline table holds."""
    if isinstance(table, TableSet):
        return "---\n".join(table_to_text(t) for t in table.tables)
    return yaml.safe_dump(table.validate().to_dict(), sort_keys=False, default_flow_style=None, width=120)


def load_table(path):
    """Read and validate a table file; TableError names the file on any problem."""
    name = os.path.splitext(os.path.basename(path))[0]
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise TableError(f"table file '{path}': cannot be read as YAML ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    try:
        table = table_from_text(text, name)
    except TableError as e:
        raise TableError(f"table file '{path}': {str(e).split(': ', 1)[-1]}") from None
    if isinstance(table, TableSet):
        raise TableError(f"table file '{path}': holds {len(table.tables)} tables; a file holds one (Save Table writes a set as one file each)")
    return table


def save_table(table, path, overwrite=False):
    """Validate, then write atomically (temp file + rename); refuse to overwrite unless asked."""
    text = table_to_text(table)
    if os.path.exists(path) and not overwrite:
        raise TableError(f"table file '{path}' already exists (allow overwrite to replace it)")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".yaml", dir=folder)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; tables are meant to be shared
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def multistep_table(sigmas, window, row_at, source, name):
    """A fixed multistep method as a table: row_at(i) = its weights, newest derivative first; a step that
    lands on sigma 0 uses the current derivative alone (x = denoised), as ComfyUI's samplers do."""
    sigmas = [float(s) for s in sigmas]
    n = len(sigmas) - 1
    weights = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for k, w in enumerate([1.0] if sigmas[i + 1] == 0 else row_at(i)):
            weights[i][i - k] = w
    return CoefficientTable(steps=n, window=window, weights=weights, t_scale=[1.0] * n, sigmas=sigmas,
                            provenance={"source": source}, name=name)


def adams_bashforth_table(sigmas, window=4):
    """The uncalibrated fallback: Adams-Bashforth rows, time scales 1; identical to ComfyUI's ipndm."""
    return multistep_table(sigmas, window, lambda i: AB_ROWS[min(i, window - 1)], "Adams-Bashforth fallback (= ipndm)", "fallback")


def gradient_estimation_table(sigmas, gamma=2.0):
    """ComfyUI's gradient_estimation (Permenter & Yuan): Euler, then d_bar = gamma d_i - (gamma - 1) d_{i-1}."""
    return multistep_table(sigmas, 2, lambda i: [1.0] if i == 0 else [gamma, 1.0 - gamma], "gradient estimation", "gradient_estimation")


def lms_table(sigmas, window=4):
    """Variable-step linear multistep (k-diffusion's lms, order = window): row i integrates, from sigma_i to
    sigma_{i+1}, the polynomial through the last derivatives at their sigmas. Exact for these polynomials, where
    lms calls scipy's quad. Rows sum to 1, so the calibrated time stays on the schedule; to 0, a plain Euler step."""
    sigmas = [float(s) for s in sigmas]
    n = len(sigmas) - 1
    weights = [[0.0] * n for _ in range(n)]
    for i in range(n):
        nodes = [sigmas[i - k] for k in range(min(i + 1, window))] if sigmas[i + 1] != 0 else [sigmas[i]]
        for k, node in enumerate(nodes):
            basis = np.polynomial.Polynomial([1.0])  # Lagrange: 1 at this node, 0 at the others
            for other in nodes[:k] + nodes[k + 1:]:
                basis = basis * np.polynomial.Polynomial([-other, 1.0]) / (node - other)
            integral = basis.integ()
            weights[i][i - k] = float((integral(sigmas[i + 1]) - integral(sigmas[i])) / (sigmas[i + 1] - sigmas[i]))
    return CoefficientTable(steps=n, window=window, weights=weights, t_scale=[1.0] * n, sigmas=sigmas,
                            provenance={"source": "linear multistep (= lms)"}, name="lms")


def euler_table(sigmas):
    """Window 1, W = I, s = 1: exactly Euler; the FLUX-style initialisation."""
    sigmas = [float(s) for s in sigmas]
    n = len(sigmas) - 1
    weights = [[1.0 if i == j else 0.0 for j in range(n)] for i in range(n)]
    return CoefficientTable(steps=n, window=1, weights=weights, t_scale=[1.0] * n, sigmas=sigmas,
                            provenance={"source": "Euler"}, name="euler")
