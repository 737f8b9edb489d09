"""Thin ComfyUI adapters over dyweight_core."""
from .calibrate import DyWeightCalibrate
from .sampler import DyWeightSampler
from .tables import DyWeightInspect, DyWeightLoadTable, DyWeightSaveTable, DyWeightScheduler
from .testbed import DyWeightDemoDecode, DyWeightDemoModel

NODES = [DyWeightSampler, DyWeightCalibrate, DyWeightLoadTable, DyWeightSaveTable, DyWeightScheduler, DyWeightInspect,
         DyWeightDemoModel, DyWeightDemoDecode]
