"""A table at a glance: a heatmap of W (rows = steps; red positive, blue negative, grey outside the
window), with each row's sum (the effective step multiplier) and time scale beside it."""
import numpy as np
from PIL import Image, ImageDraw

CELL, LEFT, TOP, GAP = 44, 64, 28, 12
OUTSIDE = (225, 225, 225)


def weight_colour(w, scale):
    t = max(-1.0, min(1.0, w / scale)) if scale > 0 else 0.0
    fade = int(round(255 * (1 - abs(t))))
    return (255, fade, fade) if t >= 0 else (fade, fade, 255)


def cell_origin(i, j, n):
    """Top-left pixel of cell (row i, column j) for n steps; columns n and n+1 hold the row sum and time scale."""
    return LEFT + j * CELL + (GAP if j >= n else 0), TOP + i * CELL


def render(table):
    """HxWx3 uint8 picture of the table."""
    n = table.steps
    scale = max((abs(w) for row in table.weights for w in row), default=1.0)
    width, height = LEFT + (n + 2) * CELL + GAP + 8, TOP + n * CELL + 22
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    draw.text((4, 6), f"{table.label}: {n} steps, window {table.window}, {table.convention}{', AFS' if table.afs else ''}", fill="black")
    scales = ([None] if table.afs else []) + list(table.t_scale)
    for i, row in enumerate(table.weights):
        y = TOP + i * CELL
        draw.text((4, y + CELL // 2 - 6), f"step {i}", fill="black")
        for j, w in enumerate(row):
            x, _ = cell_origin(i, j, n)
            inside = i - table.window < j <= i
            draw.rectangle([x, y, x + CELL - 2, y + CELL - 2], fill=weight_colour(w, scale) if inside else OUTSIDE)
            if inside:
                draw.text((x + 3, y + CELL // 2 - 6), f"{w:+.2f}", fill="black")
        total = sum(row)
        x, _ = cell_origin(i, n, n)
        draw.rectangle([x, y, x + CELL - 2, y + CELL - 2], fill=weight_colour(total - 1.0, 0.5))
        draw.text((x + 3, y + CELL // 2 - 6), f"{total:.3f}", fill="black")
        x, _ = cell_origin(i, n + 1, n)
        draw.text((x + 3, y + CELL // 2 - 6), "AFS" if scales[i] is None else f"{scales[i]:.3f}", fill="black")
    for j, label in ((n, "sum"), (n + 1, "t_scale")):
        draw.text((cell_origin(0, j, n)[0] + 3, height - 18), label, fill="black")
    for j in range(n):
        draw.text((cell_origin(0, j, n)[0] + CELL // 2 - 6, height - 18), f"d{j}", fill="black")
    return np.asarray(img)


def summary(table):
    """A few lines a user can read: identity, shape, row sums, time scales, provenance."""
    sums = ", ".join(f"{sum(r):.3f}" for r in table.weights)
    scales = ", ".join(f"{s:.3f}" for s in table.t_scale)
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else v
    prov = ", ".join(f"{k}={fmt(v)}" for k, v in table.provenance.items() if not isinstance(v, (list, dict)))
    model = table.model or {}
    return "\n".join([
        f"table {table.label}: {table.steps} steps, window {table.window}, convention {table.convention}, AFS {table.afs}",
        f"model: {model.get('family')} / {model.get('model_type')}" + (f", shift {model['shift']}" if model.get("shift") else "")
        + (f", fingerprint {model['fingerprint']}" if model.get("fingerprint") else ""),
        f"sigmas: {', '.join(f'{s:.4g}' for s in table.sigmas)}",
        f"row sums (step multipliers): {sums}",
        f"time scales: {scales}",
        f"provenance: {prov}",
    ])
