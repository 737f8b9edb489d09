"""The built-in ComfyUI samplers every quality comparison runs against."""

# Deterministic, one model call per step. Left out: ancestral/SDE samplers (random), heun/dpm_2/dpmpp_2s
# (two calls), dpm_fast/adaptive (their own call counts), and the CFG++ variants, which guide
# differently and so end somewhere else than the reference's ODE.
BUILTINS = ["euler", "ddim", "lms", "dpmpp_2m", "ipndm", "ipndm_v", "deis", "uni_pc", "uni_pc_bh2", "res_multistep",
            "gradient_estimation"]
