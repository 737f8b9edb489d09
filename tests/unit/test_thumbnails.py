"""Template thumbnails show what a workflow makes (the demo grid, the heatmap of the table it runs), not
lists of node names: each committed .jpg is the picture scripts/make_workflows.py renders from its source."""
import glob
import os

import numpy as np
from PIL import Image

from scripts import make_workflows
from tooling.paths import ROOT


def test_every_template_thumbnail_is_its_real_output(tmp_path):
    names = sorted(os.path.basename(p)[:-5] for p in glob.glob(os.path.join(ROOT, "workflows", "*.json")))
    assert names == sorted(make_workflows.PICTURES) == sorted(make_workflows.WORKFLOWS)
    for name in names:
        fresh = tmp_path / "t.jpg"
        make_workflows.thumbnail(make_workflows.PICTURES[name](), str(fresh))
        shipped = np.asarray(Image.open(os.path.join(ROOT, "workflows", name + ".jpg")), dtype=np.int16)
        assert shipped.shape == (512, 512, 3) and np.abs(shipped - np.asarray(Image.open(fresh), dtype=np.int16)).max() <= 8, name
