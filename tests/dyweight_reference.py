"""An independent, deliberately plain implementation of the DyWeight update as coefficients/README.md writes it (float64, full history),
used to check dyweight_core.solver. Shares no code with it."""
import torch


def reference_dyweight(denoise, x, sigmas, W, s, window, afs=False, convention="denoiser"):
    x = x.to(torch.float64)
    sig = [float(v) for v in sigmas]
    n = len(sig) - 1
    tau = sig[0]
    ds = []
    for i in range(n):
        if afs and i == 0:
            d = x / (1 + tau ** 2) ** 0.5
        else:
            si = float(s[i - 1] if afs else s[i])
            den = denoise(x, si * tau).to(torch.float64)
            d = (x - den) / (si * tau if convention == "velocity" else tau)
        ds.append(d)
        v = torch.zeros_like(x)
        total = 0.0
        for j in range(max(0, i - window + 1), i + 1):
            v = v + float(W[i][j]) * ds[j]
            total += float(W[i][j])
        x = x + (sig[i + 1] - tau) * v
        tau = tau + total * (sig[i + 1] - tau)
    return x
