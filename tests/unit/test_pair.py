"""A pair of models for calibration (DyWeight Calibrate with model_low_noise): the teacher switches at the switch
step's sigma, which its fine steps land on; the student switches at the step, wherever a time scale moves the call."""
import torch

from dyweight_core.calibrate import teacher_sigmas
from dyweight_core.solver import unroll
from dyweight_core.split_runs import SwitchAtStep, switch_boundary, switching_denoise
from dyweight_core.table import adams_bashforth_table

SIGMAS = [14.6, 6.1, 2.4, 0.9, 0.3, 0.0]
SWITCH = 3


def test_the_teachers_calls_go_to_the_model_of_their_side_of_the_switch_sigma():
    high, low = (lambda x, s: x * 0 + 1), (lambda x, s: x * 0 + 2)
    teacher = switching_denoise(high, low, switch_boundary(SIGMAS[SWITCH]))
    x = torch.zeros(2)
    # the step from the switch sigma belongs to the second model, as the second KSamplerAdvanced's first step
    assert teacher(x, torch.tensor(SIGMAS[SWITCH], dtype=torch.float32)).tolist() == [2, 2]
    assert teacher(x, torch.tensor(SIGMAS[SWITCH] * 1.01)).tolist() == [1, 1]


def test_the_teachers_fine_steps_land_on_the_switch_sigma():
    fine = teacher_sigmas(SIGMAS, 64, floor=0.03, keep=SIGMAS[SWITCH])
    assert SIGMAS[SWITCH] in fine and len(fine) == len(teacher_sigmas(SIGMAS, 64, floor=0.03))
    assert all(b < a for a, b in zip(fine, fine[1:]))


def test_the_students_steps_call_their_halfs_model_whatever_the_time_scale():
    calls = []
    model = lambda name: (lambda x, s: calls.append((name, float(s))) or x * 0)
    table = adams_bashforth_table(SIGMAS).replace(t_scale=[1.0, 1.0, 1.0, 3.0, 1.0])  # step 4's call moved above sigma 2.4
    unroll(SwitchAtStep(model("high"), model("low"), SWITCH), torch.ones(2), SIGMAS, table)
    assert [name for name, _ in calls] == ["high"] * SWITCH + ["low"] * (len(SIGMAS) - 1 - SWITCH)
    assert calls[SWITCH][1] > SIGMAS[SWITCH - 1]
