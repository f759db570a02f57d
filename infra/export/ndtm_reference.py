"""The NDTM fiber sampler in PyTorch, written from METHOD.md §3–§4 (diffusion priors, ε/v/x₀
prediction, pixel state): the reference that fiberscope's sampler is checked against
(infra/export/sampler_parity.py makes the fixture, test/unit/guidance/sampler-parity.test.ts checks it).

Every random draw comes from a `Noise` the caller passes (x_T, and per loop index i the target
noise ξ and the update noise z), so the reference can be fed exactly the draws of another sampler.
Settings use fiberscope's option names (steps, innerSteps, lr, terminalWeight, gamma, kappa, tau,
update, variant, output, clip); variants: ndtm, static-target, unguided.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


@dataclass
class Noise:
    """x_T [K, ...]; target and update [steps, K, ...], indexed by the loop index i (0 = noisiest)."""

    x_T: Tensor
    target: Tensor
    update: Tensor


def betas(spec: dict) -> Tensor:
    """β_0..β_{T−1} of a bundle's `schedule` (float64)."""
    T, kind = spec["timesteps"], spec["type"]
    if kind == "linear":
        return torch.linspace(spec["betaStart"], spec["betaEnd"], T, dtype=torch.float64)
    if kind == "scaled_linear":
        return torch.linspace(spec["betaStart"] ** 0.5, spec["betaEnd"] ** 0.5, T, dtype=torch.float64) ** 2
    if kind == "cosine":
        f = lambda t: math.cos((t / T + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
        return torch.tensor([min(1 - f(i + 1) / f(i), 0.999) for i in range(T)], dtype=torch.float64)
    raise ValueError(f"schedule.type: {kind!r}")


class Schedule:
    """ᾱ(t) with padded indexing ᾱ(−1) = 1 (METHOD §3)."""

    def __init__(self, spec: dict):
        self.spec = spec
        self.T = spec["timesteps"]
        self.abar = torch.cumprod(1 - betas(spec), 0)

    def __call__(self, t: int) -> float:
        return 1.0 if t == -1 else float(self.abar[t])


def grid(n: int, T: int) -> list[int]:
    return [i * T // n for i in range(n)]


def gamma_at(anchors: list[dict], t: float) -> float:
    """The first anchor with t_end ≤ t ≤ t_start: end + ½(start − end)(1 + cos(π(t_start − t)/(t_start − t_end)))."""
    for a in anchors:
        if a["tEnd"] <= t <= a["tStart"]:
            if a["tStart"] == a["tEnd"]:
                return a["start"]
            frac = (a["tStart"] - t) / (a["tStart"] - a["tEnd"])
            if a.get("shape") == "linear":
                return a["start"] + (a["end"] - a["start"]) * frac
            return a["end"] + 0.5 * (a["start"] - a["end"]) * (1 + math.cos(math.pi * frac))
    return 0.0


def preprocess(steps: list[dict]) -> Callable[[Tensor], Tensor]:
    """An extractor bundle's declared preprocessing on [N, C, H, W] (METHOD §8)."""

    def run(x: Tensor) -> Tensor:
        for s in steps:
            op = s["op"]
            if op == "rescale":
                (f0, f1), (t0, t1) = s["from"], s["to"]
                x = (x - f0) * ((t1 - t0) / (f1 - f0)) + t0
            elif op == "resize":
                x = F.interpolate(x, size=tuple(s["size"]), mode=s["mode"], align_corners=False, antialias=False)
            elif op == "center_crop":
                h, w = s["size"]
                top, left = round((x.shape[2] - h) / 2), round((x.shape[3] - w) / 2)
                x = x[:, :, top : top + h, left : left + w]
            elif op == "normalize":
                shape = (1, len(s["mean"]), 1, 1)
                x = (x - torch.tensor(s["mean"], dtype=x.dtype).view(shape)) / torch.tensor(s["std"], dtype=x.dtype).view(shape)
            elif op == "repeat_channels":
                x = x.repeat(1, s["channels"] // x.shape[1], 1, 1)
            elif op == "grayscale":
                x = 0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]
            else:
                raise ValueError(f"preprocess op {op!r}")
        return x

    return run


def fiber_loss(name: str, h: Tensor, y: Tensor) -> Tensor:
    """ℓ(h, y) per sample over the feature dimension (METHOD §2)."""
    h, y = h.flatten(1), y.flatten(1)
    if name == "l2":
        return (h - y).pow(2).sum(1).sqrt()
    if name == "l1":
        return (h - y).abs().sum(1)
    if name == "cross_entropy":
        return -(torch.softmax(y, 1) * torch.log_softmax(h, 1)).sum(1)
    raise ValueError(f"loss {name!r}")


def ndtm(
    network: Callable[[Tensor, int], Tensor],
    prediction: str,
    variance_channels: bool,
    schedule: Schedule,
    phi: Callable[[Tensor], Tensor],
    loss: str,
    query: Tensor,
    noise: Noise,
    o: dict,
    clip: tuple[float, float],
) -> dict:
    """Runs METHOD §4 for K = noise.x_T.shape[0] samples of one query image x₀ ([1, ...]).

    `network(x, t)` is the prior's raw output, `phi` the extractor with its preprocessing; `o` the
    sampler settings. Returns the per-step states x and estimates x̂₀ ([steps, K, ...]) and the samples.
    """
    n, N = o["steps"], o["innerSteps"]
    dtype = noise.x_T.dtype
    update = o["update"]
    variant = o.get("variant", "ndtm")
    lo, hi = clip
    a = schedule
    C = query.shape[1]
    K = noise.x_T.shape[0]
    x0 = query.to(dtype).expand(K, *query.shape[1:])

    def eps_of(x: Tensor, t: int) -> tuple[Tensor, Tensor | None]:
        out = network(x, t)
        var = None
        if variance_channels:
            out, var = out[:, :C], out[:, C:]
        sa, so = math.sqrt(a(t)), math.sqrt(1 - a(t))
        if prediction == "v":
            out = sa * out + so * x
        elif prediction == "x0":
            out = (x - sa * out) / so
        return out, var

    def tweedie(x: Tensor, e: Tensor, t: int) -> Tensor:
        return (x - math.sqrt(1 - a(t)) * e) / math.sqrt(a(t))

    ts = grid(n, schedule.T)
    if update["kind"] == "ancestral":
        if update.get("respacing", "as-released") == "as-released":
            r = schedule.T / n
            beta_r = torch.linspace(r * schedule.spec["betaStart"], r * schedule.spec["betaEnd"], n, dtype=torch.float64)
        else:
            beta_r = torch.tensor([1 - a(ts[k]) / a(ts[k - 1] if k > 0 else -1) for k in range(n)], dtype=torch.float64)
        abar_r = torch.cumprod(1 - beta_r, 0)

    with torch.no_grad():
        y_static = phi(x0)
    x = noise.x_T.clone()
    states, estimates = [], []
    for i, k in enumerate(reversed(range(n))):
        t, s = ts[k], (ts[k - 1] if k > 0 else -1)
        g = 0.0 if variant == "unguided" else gamma_at(o["gamma"], t)
        lr = o["lr"] * (1 - i / n)
        with torch.no_grad():
            if variant == "static-target":
                y = y_static
            else:
                xq = math.sqrt(a(t)) * x0 + math.sqrt(1 - a(t)) * noise.target[i]
                y = phi(tweedie(xq, eps_of(xq, t)[0], t).clamp(lo, hi))
        u = torch.zeros_like(x)
        if g != 0 and N > 0:
            u.requires_grad_(True)
            adam = torch.optim.Adam([u], lr=lr, betas=(0.9, 0.999), eps=1e-8)
            eps_ref = None
            if o["tau"] > 0:
                with torch.no_grad():
                    eps_ref = eps_of(x, t)[0]
            for _ in range(N):
                adam.zero_grad(set_to_none=True)
                xp = x + g * u
                e = eps_of(xp, t)[0]
                cost = o["terminalWeight"] * fiber_loss(loss, phi(tweedie(xp, e, t).clamp(lo, hi)), y)
                cost = cost + o["kappa"] * g**4 * u.pow(2).flatten(1).sum(1)
                if eps_ref is not None:
                    cost = cost + o["tau"] * (e - eps_ref).pow(2).flatten(1).sum(1)
                # Per-sample costs are independent, so the gradient of their sum is each sample's own.
                (grad,) = torch.autograd.grad(cost.sum(), u)
                norm = grad.flatten(1).norm(dim=1).view(-1, *[1] * (grad.dim() - 1))
                u.grad = grad * torch.clamp(1 / (norm + 1e-6), max=1)
                adam.step()
            u = u.detach()
        with torch.no_grad():
            xp = x + g * u
            e, var = eps_of(xp, t)
            x0h = tweedie(xp, e, t).clamp(lo, hi)
            if update["kind"] == "ddim":
                ab_t, ab_s, eta = a(t), a(s), update["eta"]
                if update["variance"] == "small":
                    c1 = eta * math.sqrt((1 - ab_t / ab_s) * (1 - ab_s) / (1 - ab_t))
                    c2 = math.sqrt((1 - ab_s) - c1**2)
                else:
                    c1 = eta * math.sqrt(1 - ab_t / ab_s)
                    c2 = math.sqrt((1 - ab_s) - (1 - ab_s) / (1 - ab_t) * c1**2)
                x = math.sqrt(ab_s) * x0h + c1 * noise.update[i] + c2 * e
            elif update["kind"] == "ancestral":
                b, ab, ab_prev = float(beta_r[k]), float(abar_r[k]), (float(abar_r[k - 1]) if k > 0 else 1.0)
                mean = (b * math.sqrt(ab_prev) / (1 - ab)) * x0h + ((1 - ab_prev) * math.sqrt(1 - b) / (1 - ab)) * xp
                if t > 0:
                    small = b * (1 - ab_prev) / (1 - ab)
                    if update["variance"] == "small":
                        sigma = math.sqrt(small)
                    elif update["variance"] == "large":
                        sigma = math.sqrt(b)
                    else:
                        # learned_range: log σ² interpolated between log β′ and the (finite) log posterior variance.
                        f = (var + 1) / 2
                        sigma = torch.exp(0.5 * (f * math.log(b) + (1 - f) * math.log(small)))
                    x = mean + sigma * noise.update[i]
                else:
                    x = mean
            else:
                raise ValueError(f"update.kind {update['kind']!r}: the reference covers ddim and ancestral")
        states.append(x.clone())
        estimates.append(x0h.clone())
    return {
        "states": torch.stack(states),
        "estimates": torch.stack(estimates),
        "samples": x0h if o["output"] == "x0" else x,
    }
