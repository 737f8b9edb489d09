"""Table nodes: load (shipped + user tables), save (safe names, atomic), scheduler (a table's own sigmas)."""
import logging
import os
import re

import numpy as np
import torch
from .api import io, ui

from ..dyweight_core import heatmap
from ..dyweight_core.lookup import read_cached, scan_tables
from ..dyweight_core.schedules import flux_mu, table_sigmas
from ..dyweight_core.table import TableError, TableSet, save_table, table_from_text, table_to_text, tables_in
from .table_folders import TABLE, table_folders, user_table_dir

SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def table_names():
    """File names of every table found, user folder first; the same name in two folders lists once."""
    names = []
    for path, _ in scan_tables(table_folders()):
        name = os.path.basename(path)
        if name not in names:
            names.append(name)
    return names


def table_path(name):
    """The file behind a listed name; never a path outside the table folders."""
    if os.path.basename(name) != name:
        raise TableError(f"table name '{name}' must be a plain file name")
    for folder in table_folders():
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    raise TableError(f"table '{name}' was not found in {table_folders()}")


def safe_table_path(name):
    """<user table folder>/<sanitised name>.yaml; refuses anything that would land elsewhere."""
    stem = SAFE_NAME.sub("_", os.path.basename(str(name).replace("\\", "/"))).strip("._")
    stem = re.sub(r"\.ya?ml$", "", stem, flags=re.IGNORECASE)
    if not stem:
        raise TableError(f"table name '{name}' has no usable characters (use letters, digits, '.', '_', '-')")
    folder = os.path.realpath(user_table_dir())
    path = os.path.join(folder, stem + ".yaml")
    if os.path.islink(path) or os.path.dirname(os.path.realpath(path)) != folder:
        raise TableError(f"table name '{name}' would write outside the table folder {folder}")
    return path


class DyWeightLoadTable(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="DyWeightLoadTable", display_name="DyWeight Load Table", category="sampling/dyweight",
            description="Loads a coefficient table shipped with the pack or saved in models/dyweight.",
            inputs=[io.Combo.Input("name", options=table_names(),
                                   tooltip="Tables from models/dyweight (yours) and the pack's coefficients folder.")],
            outputs=[TABLE.Output()],
        )

    @classmethod
    def fingerprint_inputs(cls, name):
        """A file overwritten under the same name is another table: ComfyUI must not reuse the old output."""
        try:
            st = os.stat(table_path(name))
            return f"{name}:{st.st_mtime_ns}:{st.st_size}"
        except (TableError, OSError) as e:
            return f"{name}:{e}"

    @classmethod
    def execute(cls, name) -> io.NodeOutput:
        table = read_cached(table_path(name))
        if isinstance(table, TableError):
            raise table
        return io.NodeOutput(table)


class DyWeightInlineTable(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="DyWeightInlineTable", display_name="DyWeight Inline Table", category="sampling/dyweight",
            description="A table kept inside the workflow, so a shared workflow (JSON or PNG) carries its calibrated "
                        "table. Paste the text that DyWeight Table as Text shows; it is validated like a file.",
            inputs=[io.String.Input("table_yaml", multiline=True, default="",
                                    tooltip="The table's YAML (format dyweight-table/1), e.g. from DyWeight Table as Text.")],
            outputs=[TABLE.Output()],
        )

    @classmethod
    def execute(cls, table_yaml) -> io.NodeOutput:
        if not table_yaml.strip():
            raise TableError("DyWeight Inline Table is empty: paste a table's YAML (DyWeight Table as Text shows one)")
        return io.NodeOutput(table_from_text(table_yaml))


class DyWeightTableAsText(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="DyWeightTableAsText", display_name="DyWeight Table as Text", category="sampling/dyweight",
            description="Shows a table's YAML, to copy into DyWeight Inline Table so the workflow carries it.",
            inputs=[TABLE.Input("table", tooltip="The table to show, e.g. from DyWeight Calibrate or Load Table.")],
            outputs=[io.String.Output(display_name="table_yaml")],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, table) -> io.NodeOutput:
        text = table_to_text(table)
        return io.NodeOutput(text, ui=ui.PreviewText(text))


class DyWeightSaveTable(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="DyWeightSaveTable", display_name="DyWeight Save Table", category="sampling/dyweight",
            description="Saves a table to models/dyweight, where the dyweight sampler finds it for the same model and steps.",
            inputs=[TABLE.Input("table", tooltip="The table to save, e.g. from DyWeight Calibrate (tables for several step "
                                                 "counts: one file each, <name>_<N>steps.yaml)."),
                    io.String.Input("name", default="my_model_6steps", tooltip="File name (letters, digits, '.', '_', '-'); .yaml is added."),
                    io.Boolean.Input("overwrite", default=False, optional=True, tooltip="Replace an existing table of that name.")],
            outputs=[io.String.Output(display_name="path")],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, table, name, overwrite=False) -> io.NodeOutput:
        if isinstance(table, TableSet):  # one file per step count: <name>_<N>steps.yaml, each found by lookup
            stem = re.sub(r"_?\d+steps$", "", str(name)) or "table"
            targets = [(t, safe_table_path(f"{stem}_{t.steps}steps")) for t in table.tables]
        else:
            targets = [(table, safe_table_path(name))]
        taken = [path for _, path in targets if os.path.exists(path)]
        if taken and not overwrite:  # a set is saved whole or not at all: every file is checked before any is written
            raise TableError(f"table file '{taken[0]}' already exists (allow overwrite to replace it); nothing was written")
        paths = [save_table(t, p, overwrite=overwrite) for t, p in targets]
        for path in paths:
            logging.info(f"[DyWeight] saved table to {path}")
        text = "\n".join(paths)
        return io.NodeOutput(text, ui=ui.PreviewText(text))


class DyWeightScheduler(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="DyWeightScheduler", display_name="DyWeight Scheduler", category="sampling/custom_sampling/schedulers",
            description="The sigmas a table was calibrated on, for SamplerCustomAdvanced graphs. The authors' FLUX "
                        "tables follow FLUX's shifted schedule for the image size; every other table has its own sigmas.",
            inputs=[TABLE.Input("table", tooltip="The table whose schedule to output."),
                    io.Int.Input("resolution", default=1024, min=256, max=4096, step=64, optional=True,
                                 tooltip="Image size, for tables that follow it (the authors' FLUX tables)."),
                    io.Float.Input("denoise", default=1.0, min=0.0, max=1.0, step=0.01, optional=True,
                                   tooltip="As in BasicScheduler: the tail of a longer schedule (tables that follow the image size); "
                                           "0 gives an empty schedule."),
                    io.Int.Input("steps", default=0, min=0, max=50, optional=True,
                                 tooltip="With tables for several step counts (DyWeight Calibrate's step_counts): which one. "
                                         "0: the connected table's own.")],
            outputs=[io.Sigmas.Output()],
        )

    @classmethod
    def execute(cls, table, resolution=1024, denoise=1.0, steps=0) -> io.NodeOutput:
        if isinstance(table, TableSet):
            if not steps:
                raise TableError(f"the connected tables are for {', '.join(map(str, table.counts))} steps: set steps to one of them")
            table = table.for_steps(steps)
        return io.NodeOutput(torch.tensor(table_sigmas(table, flux_mu(resolution), denoise), dtype=torch.float32))


class DyWeightInspect(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="DyWeightInspect", display_name="DyWeight Inspect Table", category="sampling/dyweight",
            description="A heatmap of the table's weights (rows = steps) with row sums and time scales, and a text summary.",
            inputs=[TABLE.Input("table", tooltip="The table to look at.")],
            outputs=[io.Image.Output(display_name="heatmap"), io.String.Output(display_name="summary")],
        )

    @classmethod
    def execute(cls, table) -> io.NodeOutput:
        tables = tables_in(table)
        pictures = [heatmap.render(t) for t in tables]
        width = max(p.shape[1] for p in pictures)
        padded = [np.pad(p, ((0, 0), (0, width - p.shape[1]), (0, 0)), constant_values=255) for p in pictures]
        picture = torch.from_numpy(np.concatenate(padded)).float().div(255).unsqueeze(0)  # one heatmap under the other
        return io.NodeOutput(picture, "\n\n".join(heatmap.summary(t) for t in tables))
