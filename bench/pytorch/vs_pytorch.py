"""PyTorch side of bench/vs-pytorch.ts: the same networks in PyTorch eager, random weights.

  python bench/pytorch/vs_pytorch.py export DIR        # ONNX exports + weights + NDTM bundles into DIR
  python bench/pytorch/vs_pytorch.py serve-grad DIR NAME --threads 2
  python bench/pytorch/vs_pytorch.py ndtm DIR PLAN.json [--lockstep] --threads 2
  python bench/pytorch/vs_pytorch.py breakdown DIR K RUNS --threads 2
  (--device cuda: on the GPU; every timed evaluation ends with torch.cuda.synchronize())

serve-grad answers a line protocol on stdin/stdout, so that the benchmark can alternate one
evaluation here with one of fiberscope's: `ready <startup s>` once warm, then for every `run` line a
`ms <wall ms> <CPU ms>` line, and on `quit` a `peak <MiB>` line. ndtm prints one JSON line, and so
does breakdown (one NDTM cost-gradient evaluation: wall times, and the profiler's convolution time).
"""

import json
import math
import os
import sys
import time

T0 = time.perf_counter()

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

SEED = 20

# name: (builder, input dims)
SUBJECTS = {}
DEVICE = 'cpu'


def sync():
    if DEVICE == 'cuda':
        torch.cuda.synchronize()


def subject(name, dims):
    def register(build):
        SUBJECTS[name] = (build, dims)
        return build

    return register


def calibrate_batchnorm(model, dims, batches=4):
    """BatchNorm running statistics from a few random batches (cumulative average), then eval mode."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if bns:
        for m in bns:
            m.reset_running_stats()
            m.momentum = None
        model.train()
        g = torch.Generator().manual_seed(SEED + 1)
        with torch.no_grad():
            for _ in range(batches):
                model(torch.randn([4, *dims[1:]], generator=g))
    return model.eval()


@subject('resnet50', [1, 3, 224, 224])
def resnet50():
    import torchvision

    return torchvision.models.resnet50(weights=None)


@subject('convnext-tiny', [1, 3, 224, 224])
def convnext_tiny():
    import torchvision

    return torchvision.models.convnext_tiny(weights=None)


@subject('dinov2-vits14', [1, 3, 224, 224])
def dinov2_vits14():
    import timm

    # DINOv2 ViT-S/14 (LayerScale, CLS token) at 224² (16×16 patches); pooled CLS features.
    return timm.create_model('vit_small_patch14_dinov2', pretrained=False, img_size=224, num_classes=0)


class Denoiser(torch.nn.Module):
    """diffusers UNet2DModel as a function (x, t) -> ε."""

    def __init__(self, unet):
        super().__init__()
        self.unet = unet

    def forward(self, x, t):
        return self.unet(x, t).sample


def chexpert_unet():
    from diffusers import UNet2DModel

    # A CheXpert-style pixel prior: grayscale 64², 64/128/128 channels, attention in the mid block.
    return UNet2DModel(
        sample_size=64,
        in_channels=1,
        out_channels=1,
        block_out_channels=(64, 128, 128),
        layers_per_block=1,
        down_block_types=('DownBlock2D', 'DownBlock2D', 'DownBlock2D'),
        up_block_types=('UpBlock2D', 'UpBlock2D', 'UpBlock2D'),
        attention_head_dim=32,
        norm_num_groups=32,
    )


class UnetAt(torch.nn.Module):
    """The UNet at a fixed timestep, so that its input gradient is a one-input function."""

    def __init__(self, unet, t=500):
        super().__init__()
        self.unet = unet
        self.register_buffer('t', torch.tensor([t], dtype=torch.int64))

    def forward(self, x):
        return self.unet(x, self.t).sample


@subject('unet-chexpert-64', [1, 1, 64, 64])
def unet_grad():
    return UnetAt(chexpert_unet())


class Decoder(torch.nn.Module):
    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, z):
        return self.vae.decode(z).sample


@subject('vae-decoder', [1, 4, 16, 16])
def vae_decoder():
    from diffusers import AutoencoderKL

    # The Stable Diffusion VAE layout at half width, latent 4×16×16 → 128×128 RGB.
    return Decoder(
        AutoencoderKL(
            in_channels=3,
            out_channels=3,
            latent_channels=4,
            block_out_channels=(64, 128, 256, 256),
            down_block_types=('DownEncoderBlock2D',) * 4,
            up_block_types=('UpDecoderBlock2D',) * 4,
            layers_per_block=2,
            norm_num_groups=32,
            sample_size=128,
        )
    )


def extractor_resnet18():
    import torchvision

    m = torchvision.models.resnet18(weights=None)
    m.fc = torch.nn.Identity()
    return m


IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
EXTRACTOR_SIZE = 224


def preprocess(x):
    """The extractor bundle's preprocessing: [-1, 1] → [0, 1], gray → RGB, bilinear 224², ImageNet normalisation."""
    x = (x + 1) * 0.5
    x = x.repeat(1, 3, 1, 1)
    x = F.interpolate(x, size=(EXTRACTOR_SIZE, EXTRACTOR_SIZE), mode='bilinear', align_corners=False)
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def built(name):
    torch.manual_seed(SEED)
    build, dims = SUBJECTS[name]
    return calibrate_batchnorm(build(), dims), dims


def frozen(model):
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def export(out):
    os.makedirs(out, exist_ok=True)
    for name in SUBJECTS:
        model, dims = built(name)
        torch.save(model.state_dict(), os.path.join(out, f'{name}.pt'))
        x = torch.randn(dims)
        torch.onnx.export(
            model, (x,), os.path.join(out, f'{name}.onnx'), input_names=['x'], output_names=['y'],
            opset_version=17, dynamo=False,
        )
        with torch.no_grad():
            y = model(x)
        with open(os.path.join(out, f'{name}.json'), 'w') as f:
            json.dump({'input': 'x', 'output': 'y', 'dims': dims, 'outputDims': list(y.shape)}, f)
        print(f'exported {name}', file=sys.stderr)

    prior_dir = os.path.join(out, 'ndtm', 'prior')
    os.makedirs(prior_dir, exist_ok=True)
    torch.manual_seed(SEED)
    denoiser = Denoiser(chexpert_unet()).eval()
    torch.save(denoiser.state_dict(), os.path.join(prior_dir, 'denoiser.pt'))
    torch.onnx.export(
        denoiser, (torch.randn(2, 1, 64, 64), torch.tensor([500, 500], dtype=torch.int64)),
        os.path.join(prior_dir, 'denoiser.onnx'), input_names=['x', 't'], output_names=['eps'],
        dynamic_axes={'x': {0: 'N'}, 't': {0: 'N'}, 'eps': {0: 'N'}}, opset_version=17, dynamo=False,
    )
    with open(os.path.join(prior_dir, 'fiberscope.json'), 'w') as f:
        json.dump({
            'version': 1, 'kind': 'prior', 'type': 'diffusion', 'name': 'unet-chexpert-64',
            'denoiser': {'file': 'denoiser.onnx', 'input': 'x', 'timestep': 't', 'output': 'eps',
                         'prediction': 'epsilon'},
            'image': {'channels': 1, 'height': 64, 'width': 64, 'range': [-1, 1]},
            'clip': [-1, 1],
        }, f, indent=2)

    extractor_dir = os.path.join(out, 'ndtm', 'extractor')
    os.makedirs(extractor_dir, exist_ok=True)
    torch.manual_seed(SEED + 2)
    phi = calibrate_batchnorm(extractor_resnet18(), [1, 3, EXTRACTOR_SIZE, EXTRACTOR_SIZE])
    torch.save(phi.state_dict(), os.path.join(extractor_dir, 'model.pt'))
    torch.onnx.export(
        phi, (torch.randn(2, 3, EXTRACTOR_SIZE, EXTRACTOR_SIZE),), os.path.join(extractor_dir, 'model.onnx'),
        input_names=['pixels'], output_names=['features'],
        dynamic_axes={'pixels': {0: 'N'}, 'features': {0: 'N'}}, opset_version=17, dynamo=False,
    )
    with open(os.path.join(extractor_dir, 'fiberscope.json'), 'w') as f:
        json.dump({
            'version': 1, 'kind': 'extractor', 'name': 'resnet18',
            'model': {'file': 'model.onnx', 'input': 'pixels', 'output': 'features'},
            'preprocess': [
                {'op': 'rescale', 'from': [-1, 1], 'to': [0, 1]},
                {'op': 'repeat_channels', 'channels': 3},
                {'op': 'resize', 'size': [EXTRACTOR_SIZE, EXTRACTOR_SIZE], 'mode': 'bilinear'},
                {'op': 'normalize', 'mean': IMAGENET_MEAN, 'std': IMAGENET_STD},
            ],
            'loss': 'l2', 'metric': 'squared_l2',
        }, f, indent=2)
    print('exported the NDTM prior and extractor bundles', file=sys.stderr)


def peak_mib():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024
    return float('nan')


def threads(n):
    torch.set_num_threads(n)
    torch.set_num_interop_threads(1)


def serve_grad(out, name, warmup):
    build, dims = SUBJECTS[name]
    torch.manual_seed(SEED)
    model = frozen(build()).eval()
    model.load_state_dict(torch.load(os.path.join(out, f'{name}.pt')))
    model.to(DEVICE)
    x0 = torch.sin(torch.arange(math.prod(dims), dtype=torch.float32) * 0.37).reshape(dims).to(DEVICE)
    with torch.no_grad():
        dy = torch.ones_like(model(x0))

    def once():
        x = x0.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(model(x), x, dy)
        sync()
        return g

    for _ in range(warmup):
        once()
    print(f'ready {time.perf_counter() - T0:.3f}', flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == 'run':
            t, c = time.perf_counter(), time.process_time()
            once()
            print(f'ms {1000 * (time.perf_counter() - t):.3f} {1000 * (time.process_time() - c):.3f}', flush=True)
        elif cmd == 'quit':
            break
    print(f'peak {peak_mib():.1f}', flush=True)


def ndtm_models(out):
    """The NDTM bundles' networks with the exported weights, frozen, in eval mode: (denoiser, φ)."""
    denoiser = Denoiser(chexpert_unet())
    denoiser.load_state_dict(torch.load(os.path.join(out, 'ndtm', 'prior', 'denoiser.pt')))
    phi = extractor_resnet18()
    phi.load_state_dict(torch.load(os.path.join(out, 'ndtm', 'extractor', 'model.pt')))
    return frozen(denoiser).eval().to(DEVICE), frozen(phi).eval().to(DEVICE)


def ndtm(out, plan_file, lockstep=False):
    """The NDTM loop (METHOD §4) with the plan's per-step γ, learning rate and DDIM coefficients.

    With lockstep, each step waits for a 'go' line on stdin (after printing 'wait') and reports
    'step ms', so that the benchmark alternates it with fiberscope's side; waits are not counted.
    """
    with open(plan_file) as f:
        plan = json.load(f)
    K, N, D = plan['k'], plan['innerSteps'], [1, 64, 64]
    denoiser, phi = ndtm_models(out)
    lo, hi = plan['clip']
    g = torch.Generator(device=DEVICE).manual_seed(SEED)
    query = torch.tensor(plan['query'], dtype=torch.float32, device=DEVICE).reshape(1, *D).repeat(K, 1, 1, 1)
    # Start-up ends where the first step can begin (models built, weights loaded), as fiberscope's
    # side ends it with its sessions made; first evaluations fall inside the run on both sides.
    x = torch.randn([K, *D], generator=g, device=DEVICE)
    sync()
    startup = time.perf_counter() - T0
    step_seconds = []
    guided_seconds = []
    waited = 0.0

    def go():
        nonlocal waited
        if not lockstep:
            return
        t = time.perf_counter()
        print('wait', flush=True)
        line = sys.stdin.readline().strip()
        if line != 'go':
            sys.exit(f"lockstep: expected 'go', got {line!r}")
        waited += time.perf_counter() - t

    go()
    waited = 0.0
    t_run = time.perf_counter()
    for i, step in enumerate(plan['steps']):
        if i > 0:
            go()
        t_step = time.perf_counter()
        t = torch.full([K], step['t'], dtype=torch.int64, device=DEVICE)
        a, s = math.sqrt(step['alphaBar']), math.sqrt(1 - step['alphaBar'])
        gamma = step['gamma']
        u = torch.zeros_like(x)
        if gamma > 0 and N > 0:
            with torch.no_grad():
                xq = a * query + s * torch.randn(x.shape, generator=g, device=DEVICE)
                y = phi(preprocess(((xq - s * denoiser(xq, t)) / a).clamp(lo, hi)))
            u.requires_grad_(True)
            opt = torch.optim.Adam([u], lr=step['lr'])
            for _ in range(N):
                opt.zero_grad(set_to_none=True)
                xp = x + gamma * u
                x0 = ((xp - s * denoiser(xp, t)) / a).clamp(lo, hi)
                cost = plan['terminalWeight'] * (phi(preprocess(x0)) - y).pow(2).sum(1).sqrt()
                cost.sum().backward()
                grad = u.grad
                norm = grad.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
                grad.mul_(torch.clamp(1 / (norm + 1e-6), max=1))
                opt.step()
            u = u.detach()
        with torch.no_grad():
            xp = x + gamma * u
            eps = denoiser(xp, t)
            x0 = ((xp - s * eps) / a).clamp(lo, hi)
            x = math.sqrt(step['alphaBarNext']) * x0 + step['c2'] * eps
            if step['c1'] > 0:
                x = x + step['c1'] * torch.randn(x.shape, generator=g, device=DEVICE)
        sync()
        dt = time.perf_counter() - t_step
        step_seconds.append(dt)
        if gamma > 0:
            guided_seconds.append(dt)
        if lockstep:
            print(f'step {1000 * dt:.1f}', flush=True)
    run = time.perf_counter() - t_run - waited
    with torch.no_grad():
        final = phi(preprocess(x))
    print(json.dumps({
        'startup': startup, 'run': run, 'steps': step_seconds, 'guided': guided_seconds,
        'peakMiB': peak_mib(), 'finite': bool(torch.isfinite(final).all()),
    }), flush=True)


def breakdown(out, K, runs):
    """One NDTM cost gradient (the inner step's work: UNet, x̂₀, preprocessing, ResNet-18, loss,
    ∂/∂u) at batch K: wall ms of each of `runs` evaluations, then the same evaluations under the
    profiler, whose convolution kernels' share of all self time (forward and backward) is reported."""
    from torch.profiler import ProfilerActivity, profile

    denoiser, phi = ndtm_models(out)
    g = torch.Generator(device=DEVICE).manual_seed(SEED)
    x = torch.randn([K, 1, 64, 64], generator=g, device=DEVICE)
    y = torch.randn([K, 512], generator=g, device=DEVICE)
    t = torch.full([K], 500, dtype=torch.int64, device=DEVICE)
    a, s = 0.7, 0.71

    def once():
        u = torch.zeros_like(x, requires_grad=True)
        xp = x + 0.1 * u
        x0 = ((xp - s * denoiser(xp, t)) / a).clamp(-1, 1)
        cost = (phi(preprocess(x0)) - y).pow(2).sum(1).sqrt()
        (grad,) = torch.autograd.grad(cost.sum(), u)
        sync()
        return grad

    for _ in range(2):
        once()
    wall = []
    for _ in range(runs):
        t0 = time.perf_counter()
        once()
        wall.append(1000 * (time.perf_counter() - t0))
    with profile(activities=[ProfilerActivity.CPU]) as p:
        for _ in range(runs):
            once()
    events = p.key_averages()
    conv = sum(e.self_cpu_time_total for e in events if 'convolution' in e.key)
    total = sum(e.self_cpu_time_total for e in events)
    print(json.dumps({'wallMs': wall, 'convShare': conv / total}), flush=True)


def main():
    global DEVICE
    args = sys.argv[1:]
    n = 2
    if '--threads' in args:
        i = args.index('--threads')
        n = int(args[i + 1])
        del args[i:i + 2]
    warmup = 3
    if '--warmup' in args:
        i = args.index('--warmup')
        warmup = int(args[i + 1])
        del args[i:i + 2]
    if '--device' in args:
        i = args.index('--device')
        DEVICE = args[i + 1]
        del args[i:i + 2]
    threads(n)
    if args[:1] == ['export'] and len(args) == 2:
        export(args[1])
    elif args[:1] == ['serve-grad'] and len(args) == 3:
        serve_grad(args[1], args[2], warmup)
    elif args[:1] == ['ndtm'] and len(args) in (3, 4) and args[3:] in ([], ['--lockstep']):
        ndtm(args[1], args[2], lockstep=args[3:] == ['--lockstep'])
    elif args[:1] == ['breakdown'] and len(args) == 4:
        breakdown(args[1], int(args[2]), int(args[3]))
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main()
