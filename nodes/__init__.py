"""Thin ComfyUI adapters over dyweight_core."""
from .calibrate import DyWeightCalibrate
from .sampler import DyWeightSampler
from .tables import (DyWeightInlineTable, DyWeightInspect, DyWeightLoadTable, DyWeightSaveTable, DyWeightScheduler,
                     DyWeightTableAsText)
from .photos import DyWeightPhotosModel
from .mixture import DyWeightDemoDecode, DyWeightDemoModel

NODES = [DyWeightSampler, DyWeightCalibrate, DyWeightLoadTable, DyWeightInlineTable, DyWeightTableAsText, DyWeightSaveTable,
         DyWeightScheduler, DyWeightInspect, DyWeightDemoModel, DyWeightPhotosModel,
         DyWeightDemoDecode]
