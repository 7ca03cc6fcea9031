"""Accuracy predictor (experimental): a network's top-1 under frozen device errors, without simulating
the devices.

Status, measured (``validation/results/resnet50-tinyimagenet/predictor.csv``, README "Accuracy predictor"):
on a 4-layer CNN within 0.1, 1.1 and 5.4 points of 12 device-level chips (``tests/validation/test_predict.py``);
on the Tiny-ImageNet ResNet-50, where the simulated top-1 stays above 50 %, 34 of 38 points within 3 points
(15 within 1.5, the DESIGN target), optimistic by 2.2 points on average; every collapse is missed (offset,
state-proportional 10 %: about 52 % predicted, 1.3 % simulated). The per-weight moments are right (Gaussian
chips drawn from them reproduce the device-level accuracy); what is missing is the compounding of the
errors through the depth, which a sum of single-layer responses does not carry. Use it for what it is
tested on, and as the harness to improve it.

DESIGN section 3, network level. Three ingredients:

1. **Theory, per weight** (closed form from the device model): the mean E[dW] and the variance Var[dW] of
   every decoded weight's error over programmed chips (:func:`aimc.theory.expected_weight_error`,
   :func:`aimc.theory.weight_error_variance`), in integer-weight units.
2. **One measurement per network** (:func:`measure_sensitivity`, cached): for each analog layer l and test
   image i, the response of the margin m_i = z_y - z_c (label y, its strongest rival c in the digital
   network) to i.i.d. Gaussian weight noise of std s on layer l alone, from antithetic draws (+-s) at two
   levels: the odd part's square fitted as ``a s^2 + b s`` (the linear response, and the 8-bit
   activations' rounding, which a small perturbation flips with a probability proportional to its size),
   the even part as ``c s^2`` (the mean shift: random weight error shrinks the winning logit).
3. **Per scheme, one forward pass** (:func:`predict_accuracy`): the digital network with the mean weights
   W + E[dW] gives the centre margin (the systematic part, to all orders: the clipping shrink that
   compounds through the depth, the shifts of sliced offset cells); the random part shifts it by
   ``sum_l c_li V_l`` and spreads it with variance ``sum_l a_li V_l + b_li sqrt(V_l)``, V_l = mean(Var[dW_l]),
   and the predicted top-1 is ``mean_i Phi(mean_i / std_i)``.

Assumptions (each a possible source of prediction error, measured in ``validation/results``): weight errors
independent across weights and layers (not true of a unit column's shared cells), a layer's response the
same for its weights' actual variance pattern as for uniform noise of the same mean variance, layers'
responses that add (measured around the error-free network), one rival per image, and a Gaussian margin.
Device errors only: schemes with an ADC, read noise or wire resistance are refused (their errors are per
read, not per weight).

Command line: ``python -m aimc.validation.predict --model resnet50-tinyimagenet --images 300
--experiments cell-si-mapping`` predicts every point of the experiments and compares each with its
committed Monte Carlo row (10,000 images x 5 chips), writing ``predictor.csv`` beside them.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from aimc.montecarlo.engine import no_tf32
from aimc.montecarlo.layers import analog_layers
from aimc.theory import expected_weight_error, weight_error_variance
from scipy import stats
from torch import nn

from aimc.results import ResultsCSV, atomic_file, read_csv
from aimc.scheme import Scheme

from .accuracy import (
    Network,
    convert_network,
    load_network,
    normalise,
    quantized_scheme,
    scheme_hash,
)
from .experiments import EXPERIMENTS, RESULTS_DIR, results_path

__all__ = ["Prediction", "Sensitivity", "check_predictable", "measure_sensitivity", "predict_accuracy"]

NOISE_STDS = (1.0, 3.0)
"""Stds of the measurement's weight noise, integer-weight units (programming errors of 0.25-2 % of Gmax are
0.4-5 levels)."""


def check_predictable(scheme: Scheme) -> None:
    """Refuse what the predictor does not model, naming the field."""
    if scheme.adc.bits != 0:
        raise ValueError("adc.bits: the accuracy predictor models device errors only; allowed: 0 (no ADC)")
    if scheme.device.read_noise.active:
        raise ValueError("device.read_noise.model: the accuracy predictor models frozen errors only; allowed: none")
    if scheme.parasitics.r != 0:
        raise ValueError("parasitics.r: the accuracy predictor does not model wire resistance; allowed: 0")


@dataclass
class Sensitivity:
    """Per layer and image, the response of the margin m = z_y - z_c (label y, its strongest rival c in the
    digital network) to i.i.d. weight noise of std s on that layer: variance ``quadratic s^2 + linear s``,
    mean shift ``curvature s^2`` ([layers, images] each)."""

    quadratic: np.ndarray
    linear: np.ndarray
    curvature: np.ndarray
    layers: list[str]
    digital_logits: np.ndarray  # [images, classes] of the 8-bit digital network
    labels: np.ndarray
    noise_stds: tuple[float, float]
    draws: int
    key: str

    def margin_moments(self, variances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per image, the predicted shift and variance of the margin for weight-error variances V_l [layers]."""
        v = np.asarray(variances, dtype=np.float64)
        var = np.clip(self.quadratic.T @ v + self.linear.T @ np.sqrt(v), 0.0, None)
        return self.curvature.T @ v, var

    def save(self, path: str | os.PathLike) -> None:
        """Atomic write (:func:`aimc.results.atomic_file`)."""
        with atomic_file(path, "wb") as f:
            np.savez_compressed(f, quadratic=self.quadratic, linear=self.linear, curvature=self.curvature,
                                layers=np.array(self.layers), digital_logits=self.digital_logits,
                                labels=self.labels, noise_stds=np.array(self.noise_stds), draws=self.draws,
                                key=self.key)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Sensitivity:
        d = np.load(path, allow_pickle=False)
        return cls(d["quadratic"], d["linear"], d["curvature"], [str(x) for x in d["layers"]], d["digital_logits"],
                   d["labels"], tuple(float(x) for x in d["noise_stds"]), int(d["draws"]), str(d["key"]))


@dataclass
class Prediction:
    accuracy: float  # predicted top-1 on the network's images
    digital: float  # the 8-bit digital network's top-1 on the same images
    centre: float  # top-1 of the mean-error network alone (no random part)
    margin_shift: float  # mean over images of the predicted shift of the margin by the random part
    margin_noise: float  # rms over images of the predicted std of the margin
    per_image: np.ndarray  # predicted P(correct) per image
    seconds: float


@torch.no_grad()
def _logits(model: nn.Module, net: Network, batch_size: int) -> torch.Tensor:
    out = []
    with no_tf32():
        for start in range(0, len(net.labels), batch_size):
            batch = normalise(net.images[start : start + batch_size].to(net.device), net.mean, net.std)
            out.append(model(batch).float().cpu())
    z = torch.cat(out)
    if not bool(torch.isfinite(z).all()):
        raise RuntimeError("network output is not finite")
    return z


def _rival(z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per image, the strongest class other than the label."""
    others = z.clone()
    others[torch.arange(len(labels)), labels] = -torch.inf
    return others.argmax(1)


def _margin(z: torch.Tensor, labels: torch.Tensor, rival: torch.Tensor) -> torch.Tensor:
    """z_y - z_c per image, c = ``rival``."""
    idx = torch.arange(len(labels))
    return z[idx, labels] - z[idx, rival]


def _sensitivity_key(net: Network, scheme: Scheme, noise_stds: tuple, draws: int, seed: int) -> str:
    return f"{net.name}|{net.data}|{net.subset}|{len(net.labels)}|{scheme_hash(quantized_scheme(scheme))}|" \
           f"{','.join(f'{s:g}' for s in noise_stds)}|{draws}|{seed}|margin"


def digital_network(net: Network, scheme: Scheme) -> nn.Module:
    """The 8-bit digital network of ``scheme``'s quantisation (ideal arrays, no ADC): every layer input-linear."""
    return convert_network(net, quantized_scheme(scheme))


def measure_sensitivity(
    net: Network,
    scheme: Scheme,
    *,
    noise_stds: tuple[float, float] = NOISE_STDS,
    draws: int = 1,
    seed: int = 0,
    batch_size: int = 128,
    model: nn.Module | None = None,
    progress: bool = False,
) -> Sensitivity:
    """The margin's response per layer and image: four forward passes per layer and draw, one standard-normal
    draw z at +-s1 and +-s2. The odd part (dm(+s) - dm(-s)) / 2 is the random response (its square fitted as
    a s^2 + b s over the two levels), the even part (dm(+s2) + dm(-s2)) / 2 the mean shift (curvature s2^2)."""
    noise_stds = tuple(float(s) for s in noise_stds)
    if len(noise_stds) != 2 or not all(math.isfinite(s) and s > 0 for s in noise_stds) or noise_stds[0] == noise_stds[1]:
        raise ValueError(f"noise_stds: two different finite values > 0, got {noise_stds}")
    if draws < 1:
        raise ValueError(f"draws: must be >= 1, got {draws}")
    model = model if model is not None else digital_network(net, scheme)
    layers = analog_layers(model)
    z0 = _logits(model, net, batch_size)
    labels = net.labels.cpu()
    rival = _rival(z0, labels)
    m0 = _margin(z0, labels, rival).double()
    odd2 = np.zeros((2, len(layers), len(labels)))
    even = np.zeros((len(layers), len(labels)))
    t0 = time.time()
    for li, layer in enumerate(layers):
        w = layer.w_int.to(torch.float64).cpu()
        for d in range(draws):
            gen = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, li, d]).generate_state(1)[0]))
            z = torch.randn(w.shape, generator=gen, dtype=torch.float64)
            for j, s in enumerate(noise_stds):
                dm = []
                for sign in (1.0, -1.0):
                    layer.set_effective_weights(w + sign * s * z)
                    dm.append(_margin(_logits(model, net, batch_size), labels, rival).double() - m0)
                odd2[j, li] += (((dm[0] - dm[1]) / 2) ** 2).numpy() / draws
                if j == 1:
                    even[li] += ((dm[0] + dm[1]) / 2).numpy() / s**2 / draws
        layer.set_effective_weights(None)
        if progress:
            print(f"sensitivity: layer {li + 1}/{len(layers)} {layer.name} ({time.time() - t0:.0f} s)",
                  file=sys.stderr, flush=True)
    (s1, s2), (e1, e2) = noise_stds, odd2
    quadratic = (e2 / s2 - e1 / s1) / (s2 - s1)  # E/s = a s + b at both levels
    linear = e1 / s1 - quadratic * s1
    return Sensitivity(quadratic, linear, even, [layer.name for layer in layers], z0.numpy(), labels.numpy(),
                       noise_stds, draws, _sensitivity_key(net, scheme, noise_stds, draws, seed))


def predict_accuracy(
    net: Network,
    scheme: Scheme,
    sensitivity: Sensitivity,
    *,
    model: nn.Module | None = None,
    batch_size: int = 128,
) -> Prediction:
    """The predicted top-1 of ``scheme`` on ``net``'s images (see the module doc)."""
    check_predictable(scheme)
    t0 = time.time()
    model = model if model is not None else digital_network(net, scheme)
    layers = analog_layers(model)
    if [layer.name for layer in layers] != sensitivity.layers or sensitivity.quadratic.shape[1] != len(net.labels):
        raise ValueError("sensitivity: measured on another network or other images; measure it again")
    variances = np.zeros(len(layers))
    try:
        for li, layer in enumerate(layers):
            w = layer.w_int.cpu()
            variances[li] = float(weight_error_variance(w, scheme).mean())
            mean = torch.from_numpy(expected_weight_error(w, scheme))
            layer.set_effective_weights(w.to(torch.float64) + mean)
        z = _logits(model, net, batch_size).double()
    finally:
        for layer in layers:
            layer.set_effective_weights(None)
    labels = torch.as_tensor(sensitivity.labels)
    shift, var = sensitivity.margin_moments(variances)
    mu = _margin(z, labels, _rival(z, labels)).numpy() + shift
    sd = np.sqrt(var)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_image = np.where(sd > 0, stats.norm.cdf(mu / np.where(sd > 0, sd, 1.0)), (mu > 0).astype(np.float64))
    digital = torch.from_numpy(sensitivity.digital_logits).double()
    return Prediction(
        accuracy=float(per_image.mean()),
        digital=float((digital.argmax(1) == labels).double().mean()),
        centre=float((z.argmax(1) == labels).double().mean()),
        margin_shift=float(shift.mean()),
        margin_noise=float(np.sqrt(var.mean())),
        per_image=per_image,
        seconds=time.time() - t0,
    )


# ---------------------------------------------------------------------------------------------------------
# Comparison with the committed Monte Carlo results
# ---------------------------------------------------------------------------------------------------------

PREDICTOR_KEY = ("experiment", "point", "model", "predicted_images")
"""The fields that name one row of ``predictor.csv``."""


def _committed_rows(model: str, experiment: str, root: Path) -> dict[str, dict]:
    return {r["point"]: r for r in read_csv(results_path(model, experiment, root)) if r["images"] == "10000"}


def compare(model: str, experiments: list[str], images: int, *, root: Path = RESULTS_DIR,
            out: Path | None = None, device: str = "cpu", batch_size: int = 128,
            progress: bool = True) -> list[dict]:
    """Predict every point of ``experiments`` that has a committed 10,000-image row and compare; rows are
    appended to ``out`` (default ``<root>/<model>/predictor.csv``) atomically, finished points skipped."""
    for name in experiments:
        if name not in EXPERIMENTS:
            raise ValueError(f"--experiments: unknown {name!r}; allowed: {', '.join(sorted(EXPERIMENTS))}")
    table = ResultsCSV(out or Path(root) / model / "predictor.csv", PREDICTOR_KEY)
    net = load_network(model, images=images, device=device)
    first = EXPERIMENTS[experiments[0]]
    base = first.scheme(first.points[0])
    digital = digital_network(net, base)
    cache = Path(root) / model / f"sensitivity-{images}.npz"
    sens = Sensitivity.load(cache) if cache.exists() else None
    if sens is None or sens.key != _sensitivity_key(net, base, NOISE_STDS, 1, 0):
        sens = measure_sensitivity(net, base, model=digital, batch_size=batch_size, progress=progress)
        sens.save(cache)
    correct = (sens.digital_logits.argmax(1) == sens.labels).astype(np.float64)
    results = []
    for name in experiments:
        committed = _committed_rows(model, name, Path(root))
        for point in EXPERIMENTS[name].points:
            row = committed.get(point.label)
            key = {"experiment": name, "point": point.label, "model": model, "predicted_images": images}
            if row is None or table.find(key) is not None:
                continue
            scheme = EXPERIMENTS[name].scheme(point)
            p = predict_accuracy(net, scheme, sens, model=digital, batch_size=batch_size)
            drop = p.accuracy - p.digital
            drop_se = float(np.std(p.per_image - correct, ddof=1) / np.sqrt(len(correct)))
            predicted = float(row["baseline_quantized"]) + drop
            result = {
                **key, "simulated_images": row["images"], "chips": row["chips"],
                "simulated_mean": float(row["accuracy_mean"]), "simulated_std": float(row["accuracy_std"]),
                "simulated_baseline_quantized": float(row["baseline_quantized"]), "digital_subset": p.digital,
                "centre_subset": p.centre, "predicted_subset": p.accuracy, "predicted_drop": drop,
                "drop_se": drop_se, "predicted": predicted, "error": predicted - float(row["accuracy_mean"]),
                "margin_shift": p.margin_shift, "margin_noise": p.margin_noise, "seconds": round(p.seconds, 2),
            }
            table.add(result)
            results.append(result)
            if progress:
                print(f"{name}: {point.label}: predicted {predicted:.4f}, simulated {result['simulated_mean']:.4f} "
                      f"({p.seconds:.1f} s)", file=sys.stderr)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m aimc.validation.predict",
        description="Accuracy predictor (experimental; see the module doc for its measured accuracy): predict "
        "every point of the experiments and compare with the committed Monte Carlo rows.")
    parser.add_argument("--model", default="resnet50-tinyimagenet")
    parser.add_argument("--images", type=int, default=300, help="test images the predictor runs on (subset)")
    parser.add_argument("--experiments", nargs="+", default=["cell-si-mapping", "cell-sp-mapping"])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--root", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    try:
        compare(args.model, args.experiments, args.images, root=args.root, device=args.device,
                batch_size=args.batch_size)
    except ValueError as err:
        parser.error(str(err))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
