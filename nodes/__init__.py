"""Thin ComfyUI adapters over dyweight_core."""
from .sampler import DyWeightSampler
from .tables import DyWeightLoadTable, DyWeightSaveTable, DyWeightScheduler
from .testbed import DyWeightDemoDecode, DyWeightDemoModel

NODES = [DyWeightSampler, DyWeightLoadTable, DyWeightSaveTable, DyWeightScheduler,
         DyWeightDemoModel, DyWeightDemoDecode]
