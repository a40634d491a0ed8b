"""How the authors' checkpoints map onto architectures.py (written down in README.md).

Each mapping is a list of (our key, [accepted checkpoint keys]) pairs plus patterns of checkpoint
keys that are known and deliberately not used. Loading is strict: every one of our parameters
and buffers must be found once with the same shape, and any checkpoint key that is neither
mapped nor known-unused is an error (it would mean the checkpoint is not the model we think).
"""
import hashlib
import json
import re
import struct
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import torch

from architectures import (
    RESNET50_UNITS,
    W2V2_LAYERS,
    sinusoidal_positions,
)

Pair = Tuple[str, List[str]]

BN_SUFFIXES = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
LINEAR = ("weight", "bias")


class CheckpointError(Exception):
    """A checkpoint that does not fit the model; the message is one line."""


# ----------------------------------------------------------------------------------------------
# VS: FER_static_ResNet50_AffectNet.pt (a plain state dict)


def vs_pairs() -> List[Pair]:
    pairs: List[Pair] = [("stem.conv.weight", ["conv_layer_s2_same.weight"])]
    pairs += [(f"stem.bn.{s}", [f"batch_norm1.{s}"]) for s in BN_SUFFIXES]
    for stage, units in enumerate(RESNET50_UNITS):
        for unit in range(units):
            ours = f"stages.{stage}.{unit}"
            theirs = f"layer{stage + 1}.{unit}"
            for conv, norm, their_conv, their_norm in (
                ("reduce", "reduce_bn", "conv1", "batch_norm1"),
                ("spatial", "spatial_bn", "conv2", "batch_norm2"),
                ("expand", "expand_bn", "conv3", "batch_norm3"),
            ):
                pairs.append((f"{ours}.{conv}.weight", [f"{theirs}.{their_conv}.weight"]))
                pairs += [(f"{ours}.{norm}.{s}", [f"{theirs}.{their_norm}.{s}"]) for s in BN_SUFFIXES]
            if unit == 0:
                pairs.append((f"{ours}.shortcut.conv.weight", [f"{theirs}.i_downsample.0.weight"]))
                pairs += [(f"{ours}.shortcut.bn.{s}", [f"{theirs}.i_downsample.1.{s}"]) for s in BN_SUFFIXES]
    pairs += [(f"embed.{s}", [f"fc1.{s}"]) for s in LINEAR]
    pairs += [(f"classify.{s}", [f"fc2.{s}"]) for s in LINEAR]
    return pairs


# ----------------------------------------------------------------------------------------------
# VD: FER_dinamic_LSTM_Aff-Wild2.pt (a plain state dict)

LSTM_SUFFIXES = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")


def vd_pairs() -> List[Pair]:
    pairs: List[Pair] = []
    for ours, theirs in (("temporal1", "lstm1"), ("temporal2", "lstm2")):
        pairs += [(f"{ours}.{s}", [f"{theirs}.{s}"]) for s in LSTM_SUFFIXES]
    pairs += [(f"classify.{s}", [f"fc.{s}"]) for s in LINEAR]
    return pairs


# ----------------------------------------------------------------------------------------------
# A: the PDEM backbone (Hugging Face Wav2Vec2 names under "wav2vec2.") and the authors' head
# (epoch_63.pth["model_state_dict"], which also holds the fine-tuned backbone)

W2V2_CONV_LAYERS = 7


def backbone_pairs(layers: int = W2V2_LAYERS, prefix: str = "wav2vec2.") -> List[Pair]:
    """Hugging Face Wav2Vec2Model keys (with `prefix`) -> torchaudio Wav2Vec2Model keys under
    `backbone.`. The weight-normalised positional convolution is stored by older transformers as
    weight_g / weight_v and by newer ones (torch parametrizations) as
    parametrizations.weight.original0 / original1; both are accepted."""
    p = prefix
    pairs: List[Pair] = []
    for i in range(W2V2_CONV_LAYERS):
        for part in ("conv.weight", "conv.bias", "layer_norm.weight", "layer_norm.bias"):
            pairs.append((f"backbone.feature_extractor.conv_layers.{i}.{part}", [f"{p}feature_extractor.conv_layers.{i}.{part}"]))
    for part in ("layer_norm.weight", "layer_norm.bias", "projection.weight", "projection.bias"):
        pairs.append((f"backbone.encoder.feature_projection.{part}", [f"{p}feature_projection.{part}"]))
    pos = f"{p}encoder.pos_conv_embed.conv"
    pairs += [
        ("backbone.encoder.transformer.pos_conv_embed.conv.weight_g", [f"{pos}.weight_g", f"{pos}.parametrizations.weight.original0"]),
        ("backbone.encoder.transformer.pos_conv_embed.conv.weight_v", [f"{pos}.weight_v", f"{pos}.parametrizations.weight.original1"]),
        ("backbone.encoder.transformer.pos_conv_embed.conv.bias", [f"{pos}.bias"]),
    ]
    pairs += [(f"backbone.encoder.transformer.layer_norm.{s}", [f"{p}encoder.layer_norm.{s}"]) for s in LINEAR]
    for n in range(layers):
        for part in (
            "attention.q_proj", "attention.k_proj", "attention.v_proj", "attention.out_proj",
            "layer_norm", "feed_forward.intermediate_dense", "feed_forward.output_dense", "final_layer_norm",
        ):
            for s in LINEAR:
                pairs.append((f"backbone.encoder.transformer.layers.{n}.{part}.{s}", [f"{p}encoder.layers.{n}.{part}.{s}"]))
    return pairs


def backbone_unused(prefix: str = "wav2vec2.") -> List[str]:
    """Patterns of known backbone-checkpoint keys that the exported model does not use."""
    p = re.escape(prefix)
    return [
        p + r"masked_spec_embed",  # the pre-training mask embedding (training only)
        r"classifier\..*",  # PDEM's arousal / dominance / valence regression head
        r"projector\..*",  # Wav2Vec2ForSequenceClassification's pooling head
    ]


def head_pairs() -> List[Pair]:
    pairs: List[Pair] = []
    for ours, theirs in (("head.attn1", "tl1"), ("head.attn2", "tl2")):
        for mine, their in (("q", "query_w"), ("k", "keys_w"), ("v", "values_w"), ("out", "ff_layer_after_concat")):
            pairs.append((f"{ours}.{mine}.weight", [f"{theirs}.self_attention.{their}.weight"]))
        for mine, their in (
            ("ffn_in", "feed_forward.layer_1"),
            ("ffn_out", "feed_forward.layer_2"),
            ("norm_attn", "add_norm_after_attention.layer_norm"),
            ("norm_ffn", "add_norm_after_ff.layer_norm"),
        ):
            pairs += [(f"{ours}.{mine}.{s}", [f"{theirs}.{their}.{s}"]) for s in LINEAR]
    for mine, their in (("conv1", "0"), ("conv2", "4")):
        pairs += [(f"head.reduce.{mine}.{s}", [f"time_downsample.{their}.{s}"]) for s in LINEAR]
    for mine, their in (("bn1", "1"), ("bn2", "5")):
        pairs += [(f"head.reduce.{mine}.{s}", [f"time_downsample.{their}.{s}"]) for s in BN_SUFFIXES]
    pairs += [(f"head.classify.{s}", [f"feature_downsample.{s}"]) for s in LINEAR]
    return pairs


HEAD_UNUSED = [
    # PositionWiseFeedForward builds a LayerNorm that its forward never calls.
    r"tl[12]\.feed_forward\.layer_norm\.(weight|bias)",
    # The sinusoidal table is a buffer in the checkpoint; it is checked against ours instead.
    r"tl[12]\.positional_encoding\.pe",
]


# ----------------------------------------------------------------------------------------------
# Reading checkpoint files


def _safetensors(path: str) -> Dict[str, torch.Tensor]:
    """Reads a .safetensors file (8-byte little-endian header size, JSON header, raw data)."""
    dtypes = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "I32": np.int32}
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
        data = f.read()
    out: Dict[str, torch.Tensor] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in dtypes:
            raise CheckpointError(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
        start, end = info["data_offsets"]
        array = np.frombuffer(data[start:end], dtype=dtypes[info["dtype"]]).reshape(info["shape"])
        out[name] = torch.from_numpy(array.copy())
    return out


def read_state_dict(path: str, entry: Optional[str] = None, trust_pickle: bool = False) -> Dict[str, torch.Tensor]:
    """A checkpoint's tensors by name. `.safetensors` files are parsed directly; others go through
    torch.load, by default with weights_only=True (no arbitrary code from the pickle). `entry`
    picks a nested dictionary (e.g. "model_state_dict"); when absent and the file holds one
    under a usual name, that is taken."""
    if path.endswith(".safetensors"):
        state: object = _safetensors(path)
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=not trust_pickle)
        except Exception as err:  # noqa: BLE001 - torch raises many kinds here
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            hint = "" if trust_pickle else " (if you trust the file, --trust-pickle loads it without weights_only)"
            raise CheckpointError(f"{path}: cannot read checkpoint: {first}{hint}") from err
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: expected a dictionary of tensors, got {type(state).__name__}")
    if entry is not None:
        if entry not in state:
            raise CheckpointError(f"{path}: no {entry!r} entry (it has {', '.join(sorted(map(str, state))[:8])})")
        state = state[entry]
    else:
        for usual in ("model_state_dict", "state_dict"):
            if usual in state and isinstance(state[usual], dict):
                state = state[usual]
                break
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: the state dict is a {type(state).__name__}, not a dictionary")
    tensors = {str(k): v for k, v in state.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise CheckpointError(f"{path}: holds no tensors")
    # A model saved from nn.DataParallel has every key prefixed with "module.".
    if all(k.startswith("module.") for k in tensors):
        tensors = {k[len("module."):]: v for k, v in tensors.items()}
    return tensors


# ----------------------------------------------------------------------------------------------
# Applying a mapping


def map_state(
    pairs: Sequence[Pair],
    checkpoint: Dict[str, torch.Tensor],
    expected: Dict[str, torch.Tensor],
    source: str,
) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """Our state (key -> tensor) from the checkpoint following `pairs`; also the checkpoint keys
    used. Raises CheckpointError naming the first key missing or of the wrong shape."""
    out: Dict[str, torch.Tensor] = {}
    used: List[str] = []
    for ours, candidates in pairs:
        found = [c for c in candidates if c in checkpoint]
        if not found:
            raise CheckpointError(f"{source}: missing {candidates[0]} (for {ours})")
        if len(found) > 1:
            raise CheckpointError(f"{source}: both {found[0]} and {found[1]} present (for {ours})")
        value = checkpoint[found[0]]
        if ours not in expected:
            raise CheckpointError(f"internal: {ours} is not a key of the model")
        want = expected[ours]
        if tuple(value.shape) != tuple(want.shape):
            raise CheckpointError(
                f"{source}: {found[0]} has shape {list(value.shape)}, the model needs {list(want.shape)} (for {ours})"
            )
        out[ours] = value.to(want.dtype)
        used.append(found[0])
    return out, used


def unexpected_keys(checkpoint: Iterable[str], used: Iterable[str], unused_patterns: Sequence[str]) -> List[str]:
    used_set = set(used)
    compiled = [re.compile(p) for p in unused_patterns]
    return sorted(k for k in checkpoint if k not in used_set and not any(c.fullmatch(k) for c in compiled))


def check_positions(checkpoint: Dict[str, torch.Tensor], source: str) -> None:
    """The authors' sinusoidal tables must be the ones we compute."""
    for name in ("tl1.positional_encoding.pe", "tl2.positional_encoding.pe"):
        if name not in checkpoint:
            continue
        theirs = checkpoint[name].float()
        if theirs.dim() != 3 or theirs.shape[0] != 1:
            raise CheckpointError(f"{source}: {name} has shape {list(theirs.shape)}, expected [1, length, width]")
        ours = sinusoidal_positions(theirs.shape[1], theirs.shape[2])
        diff = float((ours - theirs).abs().max())
        if diff > 1e-4:
            raise CheckpointError(f"{source}: {name} differs from the sinusoidal table by {diff:g}")


def load_into(
    model: torch.nn.Module,
    pairs: Sequence[Pair],
    checkpoint: Dict[str, torch.Tensor],
    unused_patterns: Sequence[str],
    source: str,
    ignore_prefixes: Sequence[str] = (),
) -> List[str]:
    """Loads the mapped tensors into `model` (only the keys in `pairs`). Checkpoint keys that are
    not mapped, not known-unused and do not start with one of `ignore_prefixes` are an error.
    Returns the checkpoint keys used."""
    expected = model.state_dict()
    mapped, used = map_state(pairs, checkpoint, expected, source)
    extra = [k for k in unexpected_keys(checkpoint, used, unused_patterns) if not k.startswith(tuple(ignore_prefixes))]
    if extra:
        more = f" and {len(extra) - 3} more" if len(extra) > 3 else ""
        raise CheckpointError(f"{source}: unexpected keys {', '.join(extra[:3])}{more}: is this the right checkpoint?")
    missing = model.load_state_dict(mapped, strict=False)
    unknown = [k for k in missing.unexpected_keys]
    if unknown:
        raise CheckpointError(f"internal: keys not in the model: {unknown[:3]}")
    return used


def checkpoint_has_backbone(checkpoint: Dict[str, torch.Tensor], prefix: str = "wav2vec2.") -> bool:
    return any(k.startswith(prefix + "encoder.") or k.startswith(prefix + "feature_extractor.") for k in checkpoint)


def count_backbone_layers(checkpoint: Dict[str, torch.Tensor], prefix: str = "wav2vec2.") -> int:
    pattern = re.compile(re.escape(prefix) + r"encoder\.layers\.(\d+)\.")
    indices = {int(m.group(1)) for k in checkpoint for m in [pattern.match(k)] if m}
    return max(indices) + 1 if indices else 0


def backbone_prefix(checkpoint: Dict[str, torch.Tensor]) -> str:
    """"wav2vec2." for a Wav2Vec2For*/EmotionModel checkpoint, "" for a bare Wav2Vec2Model one."""
    if any(k.startswith("wav2vec2.") for k in checkpoint):
        return "wav2vec2."
    if any(k.startswith("encoder.layers.") for k in checkpoint):
        return ""
    raise CheckpointError("no wav2vec2 backbone keys (wav2vec2.encoder.layers.* or encoder.layers.*) in the checkpoint")


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


MappingFn = Callable[[], List[Pair]]
