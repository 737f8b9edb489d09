"""A multistep solve split across two sampler calls (KSamplerAdvanced start/end steps, SDXL base + refiner, Wan 2.2's
two experts) keeps its history: the first part leaves its derivatives here, and the part that continues from its
latent picks them up, so the split run takes the unsplit run's steps."""
from collections import OrderedDict, deque

import torch

KEPT = 2  # parts remembered: a graph rarely holds more than one split run in flight


class SplitRuns:
    def __init__(self, kept=KEPT):
        self.kept, self.parts = kept, OrderedDict()

    def remember(self, table, stop, x, history):
        """A part of `table`'s solve ended before its last step `stop`, at latent x, with these derivatives."""
        key = (id(table), stop)
        self.parts[key] = (table, x.detach().clone(), [d.detach().clone() for d in history])
        self.parts.move_to_end(key)
        while len(self.parts) > self.kept:
            self.parts.popitem(last=False)

    def history_for(self, table, start, x):
        """The derivatives a part starting at step `start` from latent x continues with (a fresh deque), or None when no
        remembered part of this table ended there at this latent (then the part has no history to continue)."""
        entry = self.parts.get((id(table), start))
        if entry is None or entry[0] is not table:
            return None
        _, ended_at, history = entry
        if ended_at.shape != x.shape or not same_latent(ended_at, x):
            return None
        return deque((d.to(x.device) for d in history), maxlen=table.window)

    def clear(self):
        self.parts.clear()


def same_latent(a, b):
    """The latent a part ended at, as the next part receives it: ComfyUI scales it out and back in between
    (latent format, the flow models' noise scaling), which moves it by float rounding only."""
    a, b = a.to(b.device, torch.float32), b.float()
    return bool(torch.allclose(a, b, rtol=1e-4, atol=1e-5 * max(float(a.abs().max()), 1.0)))
