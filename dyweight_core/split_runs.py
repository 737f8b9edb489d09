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


def switching_denoise(high, low, boundary):
    """A pair of models as one denoiser for the teacher's fine solve (Wan 2.2's experts, SDXL base + refiner): `high`
    at sigmas above `boundary`, `low` at the rest, as the two-model ODE switches. One sigma per call (one step count
    at a time: splitting a batch would change which prompt row guides which latent)."""
    def denoise(x, sigma):
        above = torch.as_tensor(sigma) > boundary
        if bool(above.any()) != bool(above.all()):
            raise ValueError("a pair of models is calibrated one step count at a time")
        return high(x, sigma) if bool(above.all()) else low(x, sigma)
    return denoise


def switch_boundary(switch_sigma):
    """Where the teacher's pair switches models: at the switch step's sigma (teacher_sigmas keeps it among its fine
    steps), whose call, like the second KSamplerAdvanced's first, is the low-noise model's; a hair above it for float32."""
    return float(switch_sigma) * (1 + 1e-5)


class SwitchAtStep:
    """The student's pair: step i calls `high` before `switch_step` and `low` from it, as the two halves of a split run
    do, wherever a learned time scale moves the call's sigma (solver.model_at asks it per step)."""

    def __init__(self, high, low, switch_step):
        self.high, self.low, self.switch_step = high, low, switch_step

    def at_step(self, i):
        return self.high if i < self.switch_step else self.low

    def __call__(self, x, sigma):
        raise TypeError("a pair of models is called step by step (solver.model_at), not at a sigma")
