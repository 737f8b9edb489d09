"""DyWeight Calibrate's report as a picture: for a few test noises, the fallback, the calibrated table and the
teacher side by side with each one's error, and a bar per step count of the held-out error ratio over the
fallback and over the best built-in start. Pictures come in as HxWx3 floats in [0, 1]; out goes HxWx3 uint8."""
import numpy as np
from PIL import Image, ImageDraw

THUMB, PAD, LABEL = 112, 8, 16
GOOD, BAD, INK = (46, 139, 87), (205, 92, 92), (20, 20, 20)


def thumbnail(picture, size=THUMB):
    img = Image.fromarray((np.clip(picture, 0, 1) * 255).astype(np.uint8))
    return img.resize((size, max(1, round(size * img.height / img.width))), Image.NEAREST)


def count_panel(steps, columns):
    """One step count's rows of noises: `columns` is [(title, [picture per noise], [error per noise or None])]."""
    noises = len(columns[0][1])
    cell_h = thumbnail(columns[0][1][0]).height + LABEL
    width = PAD + len(columns) * (THUMB + PAD)
    img = Image.new("RGB", (width, 2 * LABEL + noises * (cell_h + PAD)), "white")
    draw = ImageDraw.Draw(img)
    draw.text((PAD, 4), f"{steps} steps: test noises (not used to fit or choose the table)", fill=INK)
    for c, (title, pictures, errors) in enumerate(columns):
        x = PAD + c * (THUMB + PAD)
        draw.text((x, LABEL + 2), title, fill=INK)
        for r, picture in enumerate(pictures):
            y = 2 * LABEL + r * (cell_h + PAD)
            img.paste(thumbnail(picture), (x, y))
            if errors and errors[r] is not None:
                draw.text((x, y + cell_h - LABEL + 2), f"error {errors[r]:.4f}", fill=INK)
    return img


def ratio_bars(ratios):
    """ratios: [(steps, over the fallback, over the best built-in start, its name)], as bars on a log scale."""
    height, bar, gap, top_room = 150, 22, 18, 14  # top_room: the tallest bar's label
    legend = ["left: the fallback (ipndm)", "right: the best built-in", "start on this schedule",
              "(" + ", ".join(sorted({n for *_, n in ratios})) + ")"]
    legend_w = int(max(ImageDraw.Draw(Image.new("RGB", (1, 1))).textlength(line) for line in legend)) + 2 * PAD
    bars_w = PAD + len(ratios) * (2 * bar + gap)
    img = Image.new("RGB", (bars_w + legend_w, height + 3 * LABEL + top_room), "white")
    draw = ImageDraw.Draw(img)
    draw.text((PAD, 4), "held-out error: how many times lower than ...", fill=INK)
    top = max([2.0] + [v for _, a, b, _ in ratios for v in (a, b) if np.isfinite(v)])
    y_of = lambda v: LABEL + 6 + top_room + height - int(height * np.log(max(v, 0.5) / 0.5) / np.log(top / 0.5))
    base = y_of(1.0)
    draw.line((PAD, base, bars_w, base), fill=(150, 150, 150))
    for k, (steps, fallback, builtin, name) in enumerate(ratios):
        x = PAD + k * (2 * bar + gap)
        for j, value in enumerate((fallback, builtin)):
            if not np.isfinite(value):  # a solve that diverged: say so rather than draw a bar
                draw.text((x + j * bar, base - 12), "n/a", fill=INK)
                continue
            y = y_of(value)
            draw.rectangle((x + j * bar, min(y, base), x + (j + 1) * bar - 3, max(y, base)), fill=GOOD if value >= 1 else BAD)
            draw.text((x + j * bar, min(y, base) - 12), f"{value:.1f}x", fill=INK)
        draw.text((x, base + 4), f"{steps} steps", fill=INK)
    for i, line in enumerate(legend):
        draw.text((bars_w + PAD, LABEL + 10 + top_room + 15 * i), line, fill=INK)
    return img


def render(panels, ratios):
    """The whole picture: the bars, then each count's panel, stacked."""
    parts = [ratio_bars(ratios)] + list(panels)
    img = Image.new("RGB", (max(p.width for p in parts), sum(p.height for p in parts) + PAD * len(parts)), "white")
    y = 0
    for part in parts:
        img.paste(part, (0, y))
        y += part.height + PAD
    return np.asarray(img)
