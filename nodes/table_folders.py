"""Where tables live (the user's folder under ComfyUI's models, then the pack's coefficients/) and the table type
nodes pass around."""
import os

import folder_paths
from .api import io

from ..dyweight_core.lookup import scan_tables
from ..dyweight_core.table import TableError

FOLDER = "dyweight"
SHIPPED_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))), "coefficients")
TABLE = io.Custom("DYWEIGHT_TABLE")


def register_folder():
    """User tables live in <models>/dyweight, so they survive updates of the pack; folders named in
    extra_model_paths.yaml come first, the default is always there too."""
    folder_paths.add_model_folder_path(FOLDER, os.path.join(folder_paths.models_dir, FOLDER))
    folder_paths.folder_names_and_paths[FOLDER][1].update({".yaml", ".yml"})


def user_table_dir():
    return folder_paths.get_folder_paths(FOLDER)[0]


def table_folders():
    """User folders first: a user's table wins over a shipped one of the same name."""
    return folder_paths.get_folder_paths(FOLDER) + [SHIPPED_DIR]


def usable_tables():
    """Every table that loads, user folders first (broken files are listed by Load Table, never used)."""
    return [t for _, t in scan_tables(table_folders()) if not isinstance(t, TableError)]
