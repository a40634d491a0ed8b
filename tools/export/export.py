#!/usr/bin/python3
"""Exports the paper's VS, VD and A models to ONNX with the manifests `cer` reads.

  python3 tools/export/export.py vs --weights FER_static_ResNet50_AffectNet.pt --out models/
  python3 tools/export/export.py vd --weights FER_dinamic_LSTM_Aff-Wild2.pt --out models/
  python3 tools/export/export.py a --weights epoch_63.pth [--backbone pytorch_model.bin] --out models/ --quantize int8
  python3 tools/export/export.py a --random-weights --layers 2 --out /tmp/x --reference 2

Needs Debian's python3-torch, python3-torchaudio and python3-onnx (apt-get install ...).
See README.md beside this file for the key mapping and the licences.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree

REQUIRED = (("torch", "python3-torch"), ("torchaudio", "python3-torchaudio"), ("onnx", "python3-onnx"))


def missing_packages() -> List[str]:
    import importlib

    missing = []
    for module, package in REQUIRED:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(package)
    return missing


VISUAL_LABELS = ["Neutral", "Happiness", "Sadness", "Surprise", "Fear", "Disgust", "Anger"]
CANONICAL_LABELS = ["Neutral", "Anger", "Disgust", "Fear", "Happiness", "Sadness", "Surprise"]
VS_MEAN_BGR = [91.4953, 103.8827, 131.0912]

RANDOM_LICENCE = "MIT"
RANDOM_SOURCE = "random weights (tools/export --random-weights --seed {seed}): for tests and benchmarks; predictions are meaningless"
VISUAL_LICENCE = (
    "non-commercial research use: weights by Ryumina et al. (EMO-AffectNetModel / AVCER, code MIT) trained on "
    "VGGFace2 and AffectNet, whose terms exclude commercial use"
)
ACOUSTIC_LICENCE = (
    "CC BY-NC-SA 4.0: audEERING's wav2vec2-large-robust-12-ft-emotion-msp-dim backbone, fine-tuned with the "
    "authors' head (Ryumina et al., AVCER)"
)


class ExportError(Exception):
    """A user-facing error; printed as one line."""


def default_id(kind: str, random_weights: bool, layers: int, classes: int) -> str:
    if kind == "vs":
        return "vs-resnet50-random" if random_weights else "vs-resnet50-affectnet"
    if kind == "vd":
        return "vd-lstm-random" if random_weights else "vd-lstm-affwild2"
    depth = "" if layers == 12 else f"-l{layers}"
    return f"a-w2v2-random-{classes}cl{depth}" if random_weights else f"a-w2v2-expr-{classes}cl{depth}"


# ----------------------------------------------------------------------------------------------
# Building the PyTorch model


def build_model(args: argparse.Namespace):
    """(model, weights description for the manifest, output names, example input)."""
    import torch

    import architectures as arch
    import keymap

    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed + 1000)
    weights: Dict[str, object] = {}
    if args.kind == "vs":
        model = arch.StaticResNet50()
        outputs = ["logits", "features"]
        example = torch.zeros(1, 3, 224, 224)
        if args.random_weights:
            arch.calibrate_batchnorm(model, [vs_inputs(8, generator)])
        else:
            state = keymap.read_state_dict(args.weights, trust_pickle=args.trust_pickle)
            keymap.load_into(model, keymap.vs_pairs(), state, [], os.path.basename(args.weights))
            weights["weights"] = describe_file(args.weights)
    elif args.kind == "vd":
        model = arch.DynamicLstm()
        outputs = ["logits"]
        example = torch.zeros(1, 10, 512)
        if not args.random_weights:
            state = keymap.read_state_dict(args.weights, trust_pickle=args.trust_pickle)
            keymap.load_into(model, keymap.vd_pairs(), state, [], os.path.basename(args.weights))
            weights["weights"] = describe_file(args.weights)
    else:
        model = arch.AcousticModel(num_classes=args.classes, layers=args.layers)
        outputs = ["logits"]
        example = torch.zeros(1, arch.WINDOW_SAMPLES)
        if args.random_weights:
            model.eval()
            arch.calibrate_batchnorm(model, [a_inputs(2, generator)])
        else:
            load_acoustic(model, args, weights)
    model.eval()
    if args.kind == "a":
        model.bake_weight_norm()
    return model, weights, outputs, example


def load_acoustic(model, args: argparse.Namespace, weights: Dict[str, object]) -> None:
    import keymap

    head_state = keymap.read_state_dict(args.weights, trust_pickle=args.trust_pickle) if args.weights else None
    backbone_from_head = head_state is not None and keymap.checkpoint_has_backbone(head_state)
    if args.backbone:
        state = keymap.read_state_dict(args.backbone, trust_pickle=args.trust_pickle)
        prefix = keymap.backbone_prefix(state)
        layers = keymap.count_backbone_layers(state, prefix)
        if layers != args.layers:
            raise ExportError(f"{os.path.basename(args.backbone)} has {layers} transformer layers; use --layers {layers}")
        keymap.load_into(model, keymap.backbone_pairs(args.layers, prefix), state, keymap.backbone_unused(prefix), os.path.basename(args.backbone))
        weights["backbone"] = describe_file(args.backbone)
    elif not backbone_from_head:
        raise ExportError("the acoustic model needs the backbone weights: --backbone FILE (the PDEM model's pytorch_model.bin or model.safetensors), or a --weights checkpoint that holds wav2vec2.*")
    if head_state is None:
        raise ExportError("the acoustic model needs the authors' head: --weights epoch_63.pth")
    source = os.path.basename(args.weights)
    keymap.check_positions(head_state, source)
    used = keymap.load_into(model, keymap.head_pairs(), head_state, keymap.HEAD_UNUSED, source, ignore_prefixes=("wav2vec2.",))
    if backbone_from_head:
        layers = keymap.count_backbone_layers(head_state)
        if layers != args.layers:
            raise ExportError(f"{source} has {layers} transformer layers; use --layers {layers}")
        used += keymap.load_into(model, keymap.backbone_pairs(args.layers), head_state, keymap.backbone_unused() + keymap.HEAD_UNUSED + [r"(tl[12]|time_downsample|feature_downsample)\..*"], source)
    classes = head_state["feature_downsample.weight"].shape[0]
    if classes != args.classes:
        raise ExportError(f"{source} has {classes} classes; use --classes {classes}")
    weights["weights"] = describe_file(args.weights)


def describe_file(path: str) -> Dict[str, object]:
    import keymap

    return {"file": os.path.basename(path), "sha256": keymap.file_sha256(path)}


# ----------------------------------------------------------------------------------------------
# Reference inputs (realistic ranges for each model)


def vs_inputs(count: int, generator):
    import torch

    pixels = torch.randint(0, 256, (count, 3, 224, 224), generator=generator).float()
    # Smooth the noise a little so the image has structure at several scales.
    pixels = torch.nn.functional.avg_pool2d(pixels, 5, stride=1, padding=2, count_include_pad=False)
    mean = torch.tensor(VS_MEAN_BGR).view(1, 3, 1, 1)
    return pixels - mean


def vd_inputs(count: int, generator):
    import torch

    return torch.relu(torch.randn(count, 10, 512, generator=generator) * 1.5)


def a_inputs(count: int, generator):
    import math

    import torch

    import architectures as arch

    t = torch.arange(arch.WINDOW_SAMPLES, dtype=torch.float32) / 16000.0
    rows = []
    for _ in range(count):
        f0 = 100.0 + 200.0 * float(torch.rand(1, generator=generator))
        tone = sum(torch.sin(2 * math.pi * f0 * k * t) / k for k in range(1, 6))
        envelope = 0.5 + 0.5 * torch.sin(2 * math.pi * 3.0 * t + float(torch.rand(1, generator=generator)) * 6.0)
        noise = 0.05 * torch.randn(arch.WINDOW_SAMPLES, generator=generator)
        rows.append(0.2 * tone * envelope + noise)
    return torch.stack(rows)


def make_inputs(kind: str, count: int, seed: int):
    import torch

    generator = torch.Generator().manual_seed(seed)
    return {"vs": vs_inputs, "vd": vd_inputs, "a": a_inputs}[kind](count, generator)


# ----------------------------------------------------------------------------------------------
# ONNX export and manifests


def tuple_outputs(model):
    """Wraps a model so that forward returns a tuple of tensors in output order."""
    import torch

    class TupleOutputs(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            out = self.inner(x)
            return out if isinstance(out, tuple) else (out,)

    # torch.onnx.export restores the wrapper's training flag afterwards, recursively: a fresh
    # module is in training mode, which would leave the model's BatchNorms in training mode.
    return TupleOutputs(model).eval()


def export_onnx(model, example, outputs: List[str], path: str, opset: int) -> None:
    import warnings

    import torch

    dynamic = {"input": {0: "batch"}}
    dynamic.update({name: {0: "batch"} for name in outputs})
    partial = path + f".partial-{os.getpid()}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                tuple_outputs(model),
                (example,),
                partial,
                input_names=["input"],
                output_names=outputs,
                dynamic_axes=dynamic,
                opset_version=opset,
                do_constant_folding=True,
            )
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def base_manifest(args: argparse.Namespace, model_id: str, file_name: str, sha256: str, weights: Dict[str, object], precision: str) -> Dict[str, object]:
    import torch

    random_weights = args.random_weights
    if args.kind == "vs":
        task = "static-visual"
        description = (
            "Static visual model (VS) of Ryumina et al. (CVPRW 2024): ResNet-50 (VGGFace2) fine-tuned on AffectNet, "
            "head fc1 2048->512, ReLU, fc2 512->7. Input: face crop resized to 224x224 (nearest), BGR, minus the "
            "channel means, NCHW. Outputs: logits (7, visual label order) and features (ReLU of fc1, 512) for VD."
        )
    elif args.kind == "vd":
        task = "dynamic-visual"
        description = (
            "Dynamic visual model (VD) of Ryumina et al.: LSTM 512->512, LSTM 512->256, linear 256->7 on the last "
            "step. Input: the last 10 VS feature vectors (5 per second). Output: logits (visual label order)."
        )
    else:
        task = "acoustic"
        description = (
            f"Acoustic model (A) of Ryumina et al.: wav2vec2-large-robust-12 (PDEM) backbone ({args.layers} transformer "
            f"layers), two self-attention layers, convolutional time reduction, linear 1024->{args.classes}. Input: a 4 s "
            "window at 16 kHz, mono (normalised to zero mean and unit variance inside the model, so raw or already "
            "normalised windows both work). Output: logits (canonical order"
            + (" + Other, which the method drops before the softmax)." if args.classes == 8 else ").")
        )
    if random_weights:
        licence, non_commercial, source = RANDOM_LICENCE, False, RANDOM_SOURCE.format(seed=args.seed)
        description = "RANDOM WEIGHTS (architecture only). " + description
    elif args.kind == "a":
        licence, non_commercial = ACOUSTIC_LICENCE, True
        files = ", ".join(str(w["file"]) for w in weights.values() if isinstance(w, dict))
        source = f"{files} (authors' checkpoint FLW-ExprModelV3-2024.03.02-11.42.11 and audEERING's PDEM), exported by tools/export"
    else:
        licence, non_commercial = VISUAL_LICENCE, True
        source = f"{weights['weights']['file']} by Ryumina et al. (ElenaRyumina/AVCER), exported by tools/export"  # type: ignore[index]
    if precision == "int8":
        what = "MatMul/Gemm and convolution" if args.quantize_conv else "MatMul/Gemm"
        description += f" Int8 dynamic quantisation of the {what} weights (tools/export/quantize.py); the fp32 model is {args.id or default_id(args.kind, args.random_weights, args.layers, args.classes)}."
    elif precision == "int8-static":
        fp32_id = args.id or default_id(args.kind, args.random_weights, args.layers, args.classes)
        if args.kind == "a":
            description += (
                " Int8: dynamic quantisation of the MatMul/Gemm weights (tools/export/quantize.py) and static quantisation of the"
                f" convolutions, ranges calibrated on 4 s windows of real speech (tools/export/quantize_static.py, tools/calibrate.ts); the fp32 model is {fp32_id}."
            )
        else:
            description += (
                " Int8 static quantisation of the convolutions, activation ranges calibrated on the faces of real media"
                f" (tools/export/quantize_static.py, tools/calibrate.ts); the fp32 model is {fp32_id}."
            )

    manifest: Dict[str, object] = {
        "id": model_id,
        "task": task,
        "file": file_name,
        "sha256": sha256,
        "licence": licence,
        "nonCommercial": non_commercial,
        "source": source,
        "description": description,
    }
    if args.kind == "vs":
        manifest["input"] = {"name": "input", "shape": [-1, 3, 224, 224], "layout": "NCHW", "dtype": "float32"}
        manifest["preprocessing"] = {
            "size": [224, 224],
            "colour": "bgr",
            "scale": 1,
            "mean": VS_MEAN_BGR,
            "std": [1, 1, 1],
            "interpolation": "nearest",
            "resize": "stretch",
        }
        manifest["outputs"] = {"scores": "logits", "features": "features"}
        manifest["outputKind"] = "logits"
        manifest["labels"] = VISUAL_LABELS
    elif args.kind == "vd":
        manifest["input"] = {"name": "input", "shape": [-1, 10, 512], "layout": "NTC", "dtype": "float32"}
        manifest["outputs"] = {"scores": "logits"}
        manifest["outputKind"] = "logits"
        manifest["labels"] = VISUAL_LABELS
    else:
        manifest["input"] = {"name": "input", "shape": [-1, 64000], "layout": "NT", "dtype": "float32"}
        manifest["outputs"] = {"scores": "logits"}
        manifest["outputKind"] = "logits"
        manifest["labels"] = CANONICAL_LABELS + (["Other"] if args.classes == 8 else [])
    export_info: Dict[str, object] = {
        "tool": "tools/export/export.py",
        "torch": torch.__version__,
        "opset": args.opset,
        "precision": precision,
        "weights": f"random (seed {args.seed})" if random_weights else weights,
    }
    extra: Dict[str, object] = {"export": export_info}
    if args.kind == "a":
        extra.update({"sampleRate": 16000, "windowSamples": 64000, "normalisedInGraph": True, "transformerLayers": args.layers})
    manifest["extra"] = extra
    return manifest


def write_json(path: str, value: object) -> None:
    partial = path + f".partial-{os.getpid()}"
    with open(partial, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2)
        f.write("\n")
    os.replace(partial, path)


def save_reference(model, kind: str, outputs: List[str], folder: str, count: int, seed: int) -> Dict[str, object]:
    """Writes `count` inputs and the PyTorch outputs for them as raw little-endian float32 files
    plus reference.json describing them."""
    import numpy as np
    import torch

    os.makedirs(folder, exist_ok=True)
    model.eval()
    inputs = make_inputs(kind, count, seed)
    with torch.no_grad():
        result = tuple_outputs(model)(inputs)
    files: Dict[str, Dict[str, object]] = {}

    def put(name: str, tensor) -> None:
        array = tensor.detach().cpu().numpy().astype("<f4")
        file_name = f"{name}.f32"
        array.tofile(os.path.join(folder, file_name))
        files[name] = {"file": file_name, "shape": list(array.shape)}

    put("input", inputs)
    for name, tensor in zip(outputs, result):
        put(name, tensor)
    meta = {"kind": kind, "seed": seed, "count": count, "input": files["input"], "outputs": {n: files[n] for n in outputs}}
    write_json(os.path.join(folder, "reference.json"), meta)
    return meta


def write_int8(args: argparse.Namespace, model_id: str, onnx_path: str, weights: Dict[str, object]) -> Optional[Dict[str, object]]:
    """Writes <id>-int8.onnx and its manifest beside the fp32 model; None (and no file) when the
    graph has nothing to quantise."""
    import quantize

    q_id = f"{model_id}-int8"
    q_path = os.path.join(args.out, f"{q_id}.onnx")
    stats = quantize.quantize_file(onnx_path, q_path, conv=args.quantize_conv)
    if not any(stats[k] for k in ("matmul", "gemm", "conv")):
        os.unlink(q_path)
        return None
    return write_quantised_manifest(args, model_id, q_id, q_path, weights, "int8", {"quantisation": stats})


def write_quantised_manifest(args: argparse.Namespace, model_id: str, q_id: str, q_path: str, weights: Dict[str, object], precision: str, export_extra: Dict[str, object]) -> Dict[str, object]:
    """The manifest <q_id>.json of a quantised copy of model_id, and the export summary's entry for it."""
    import keymap

    q_sha = keymap.file_sha256(q_path)
    q_manifest = base_manifest(args, q_id, os.path.basename(q_path), q_sha, weights, precision)
    export_info = q_manifest["extra"]["export"]  # type: ignore[index]
    export_info.update(export_extra)
    export_info["fp32Id"] = model_id
    q_manifest_path = os.path.join(args.out, f"{q_id}.json")
    write_json(q_manifest_path, q_manifest)
    return {
        "id": q_id, "manifest": q_manifest_path, "model": q_path, "sha256": q_sha,
        "bytes": os.path.getsize(q_path), "nonCommercial": q_manifest["nonCommercial"], "quantisation": export_extra["quantisation"],
    }


def node_binary() -> str:
    """The Node.js that runs the calibration: CER_NODE (set by `cer models export`), else node on the PATH."""
    found = os.environ.get("CER_NODE") or shutil.which("node")
    if not found:
        raise SystemExit("export: --quantize int8-static needs Node.js (set CER_NODE or put node on the PATH)")
    return found


def write_int8_static(args: argparse.Namespace, model_id: str, onnx_path: str, manifest_path: str, weights: Dict[str, object]) -> Dict[str, object]:
    """Writes <model_id>-int8s.onnx and its manifest: the model at onnx_path with its convolutions
    in static QDQ int8, ranges calibrated by tools/calibrate.ts with onnxruntime-node on real inputs
    (VS: every activation of the ResNet; A: the convolutions only, over the dynamic int8 model)."""
    import quantize_static

    calibrate = os.path.join(REPO_ROOT, "dist", "tools", "calibrate.js")
    if not os.path.isfile(calibrate):
        raise SystemExit(f"export: {calibrate} is missing: run npm run build first")
    q_id = f"{model_id}-int8s"
    q_path = os.path.join(args.out, f"{q_id}.onnx")
    with tempfile.TemporaryDirectory(prefix="cer-calibrate-") as work:
        exposed = os.path.join(work, "exposed.onnx")
        ranges_path = os.path.join(work, "ranges.json")
        conv_only = args.kind == "a"
        quantize_static.expose_file(onnx_path, exposed, conv_only)
        command = [node_binary(), calibrate, "--model", exposed, "--manifest", manifest_path, "--out", ranges_path]
        for media in args.calibration_media or []:
            command += ["--media", media]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"export: calibration failed: {(done.stderr or done.stdout).strip()}")
        calibration = json.loads(done.stdout.strip().splitlines()[-1])
        with open(ranges_path, encoding="utf-8") as f:
            ranges = json.load(f)
        stats = quantize_static.quantize_static_file(onnx_path, q_path, ranges, conv_only)
    default_media = ["sample.mp4"] if args.kind == "a" else ["sample.mp4", "astronaut.png"]
    media = [os.path.basename(m) for m in (args.calibration_media or default_media)]
    return write_quantised_manifest(args, model_id, q_id, q_path, weights, "int8-static", {"quantisation": stats, "calibration": {"inputs": calibration["inputs"], "media": media}})


def run(args: argparse.Namespace) -> Dict[str, object]:
    import torch

    torch.set_num_threads(max(1, args.threads))
    started = time.time()
    model, weights, outputs, example = build_model(args)
    model_id = args.id or default_id(args.kind, args.random_weights, args.layers, args.classes)
    os.makedirs(args.out, exist_ok=True)
    onnx_name = f"{model_id}.onnx"
    onnx_path = os.path.join(args.out, onnx_name)
    export_onnx(model, example, outputs, onnx_path, args.opset)
    import keymap

    sha = keymap.file_sha256(onnx_path)
    manifest = base_manifest(args, model_id, onnx_name, sha, weights, "fp32")
    manifest_path = os.path.join(args.out, f"{model_id}.json")
    write_json(manifest_path, manifest)
    summary: Dict[str, object] = {
        "id": model_id,
        "manifest": manifest_path,
        "model": onnx_path,
        "sha256": sha,
        "bytes": os.path.getsize(onnx_path),
        "nonCommercial": manifest["nonCommercial"],
    }
    written = [summary]
    if args.quantize == "int8-static" and args.kind == "vs":
        written.append(write_int8_static(args, model_id, onnx_path, manifest_path, weights))
    if args.quantize == "int8-static" and args.kind == "a":
        # The dynamic int8 model first (MatMuls), then its convolutions static on top of it.
        dynamic = write_int8(args, model_id, onnx_path, weights)
        if dynamic is None:
            raise SystemExit("export: the acoustic model has no MatMul to quantise")
        written.append(dynamic)
        written.append(write_int8_static(args, model_id, str(dynamic["model"]), str(dynamic["manifest"]), weights))
    if args.quantize == "int8":
        quantised = write_int8(args, model_id, onnx_path, weights)
        if quantised is None:
            # Nothing large enough to quantise (the LSTM's weights live inside its LSTM nodes).
            summary["int8"] = "not written: no MatMul, Gemm or Conv weight to quantise"
        else:
            written.append(quantised)
    if args.reference > 0:
        folder = os.path.join(args.out, f"{model_id}.reference")
        save_reference(model, args.kind, outputs, folder, args.reference, args.seed + 7)
        summary["reference"] = folder
    return {"models": written, "seconds": round(time.time() - started, 2)}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="export.py",
        description="Export the paper's VS / VD / A models to ONNX with cer manifests.",
    )
    parser.add_argument("kind", choices=["vs", "vd", "a"], help="vs: ResNet-50 static; vd: LSTM dynamic; a: wav2vec2 acoustic")
    parser.add_argument("--out", required=True, help="folder for <id>.onnx and <id>.json")
    parser.add_argument("--weights", help="the authors' checkpoint: FER_static_ResNet50_AffectNet.pt, FER_dinamic_LSTM_Aff-Wild2.pt or epoch_63.pth")
    parser.add_argument("--backbone", help="a: the PDEM backbone weights (pytorch_model.bin or model.safetensors of wav2vec2-large-robust-12-ft-emotion-msp-dim)")
    parser.add_argument("--random-weights", action="store_true", help="random weights (tests and benchmarks)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--layers", type=int, default=12, help="a: transformer layers of the backbone (12; fewer for fast tests)")
    parser.add_argument("--classes", type=int, choices=[7, 8], default=8, help="a: 8 (with Other) or 7 classes")
    parser.add_argument("--id", help="manifest id (default from the model and weights)")
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--quantize", choices=["none", "int8", "int8-static"], default="none", help="also write int8 copies: int8, dynamic (<id>-int8); int8-static (vs, a), convolutions with calibrated ranges (<id>-int8s; for a also <id>-int8)")
    parser.add_argument("--calibration-media", action="append", metavar="FILE", help="with --quantize int8-static: a video or image with faces to calibrate on (repeatable; default: the bundled examples)")
    parser.add_argument("--quantize-conv", action="store_true", help="with --quantize int8: quantise convolutions too (ConvInteger)")
    parser.add_argument("--reference", type=int, default=0, metavar="N", help="save N inputs and the PyTorch outputs to <out>/<id>.reference/")
    parser.add_argument("--threads", type=int, default=2, help="PyTorch threads")
    parser.add_argument("--trust-pickle", action="store_true", help="load .pt/.pth files with full unpickling (only for files you trust)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    args = parser.parse_args(argv)
    if args.random_weights and (args.weights or args.backbone):
        parser.error("--random-weights excludes --weights and --backbone")
    if not args.random_weights and not args.weights and not args.backbone:
        parser.error("give --weights (and for a, --backbone when needed), or --random-weights")
    if args.kind != "a" and args.backbone:
        parser.error("--backbone is for the acoustic model (a)")
    if args.layers < 1:
        parser.error("--layers must be at least 1")
    if args.quantize == "int8-static" and args.kind == "vd":
        parser.error("--quantize int8-static is for vs and a (the LSTM has no convolution)")
    for path in (args.weights, args.backbone):
        if path and not os.path.isfile(path):
            parser.error(f"{path}: no such file")
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    missing = missing_packages()
    if missing:
        sys.stderr.write(
            f"export.py: missing Debian package(s) {', '.join(missing)}; install them with: "
            f"sudo apt-get install -y {' '.join(p for _, p in REQUIRED)}\n"
        )
        return 3
    import keymap

    try:
        summary = run(args)
    except (ExportError, keymap.CheckpointError) as err:
        sys.stderr.write(f"export.py: {err}\n")
        return 1
    if args.json:
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        for m in summary["models"]:  # type: ignore[union-attr]
            flag = " (non-commercial)" if m["nonCommercial"] else ""
            sys.stdout.write(f"wrote {m['model']} ({m['bytes'] / 1e6:.1f} MB) and {m['manifest']}{flag}\n")
            if "int8" in m:
                sys.stdout.write(f"  int8 copy {m['int8']}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
