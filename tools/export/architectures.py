"""PyTorch definitions of the paper's three models (docs/method.md §5-§7).

Module names here are our own; keymap.py maps the authors' checkpoint keys onto them.

- StaticResNet50 (VS): ResNet-50 with bottleneck blocks [3, 4, 6, 3] whose stride sits on the
  first 1x1 convolution of a block (as in Keras VGGFace), a 7x7/2 stem with TensorFlow-style
  "same" padding, 3x3/2 max-pool without padding, BatchNorm eps 1e-3, and the head
  fc1 2048->512, ReLU, fc2 512->7. forward() returns (logits, features = ReLU(fc1)).
- DynamicLstm (VD): LSTM 512->512, LSTM 512->256 (batch first), linear 256->7 on the last step.
- AcousticModel (A): wav2vec2-large-robust-12 backbone built with torchaudio's wav2vec2_model
  builder, run in the Hugging Face "stable layer norm" order, then two post-norm self-attention
  layers (32 and 16 heads, sinusoidal positions added to their input), the Conv1d / BatchNorm /
  MaxPool / ReLU time reduction and a linear layer to 8 (or 7) classes. The waveform window is
  normalised to zero mean and unit variance inside the model (idempotent on a normalised input).
"""
import math
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchaudio.models import wav2vec2_model

BN_EPS_VISUAL = 1e-3


# ----------------------------------------------------------------------------------------------
# VS: static visual model


class TfSameConv2d(nn.Conv2d):
    """A convolution padded like TensorFlow's padding="same": the total padding
    max((ceil(i / s) - 1) * s + (k - 1) * d + 1 - i, 0) is split with the smaller half first
    (top / left)."""

    @staticmethod
    def _total_padding(size: int, kernel: int, stride: int, dilation: int) -> int:
        return max((math.ceil(size / stride) - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = int(x.shape[-2]), int(x.shape[-1])
        pad_h = self._total_padding(height, self.kernel_size[0], self.stride[0], self.dilation[0])
        pad_w = self._total_padding(width, self.kernel_size[1], self.stride[1], self.dilation[1])
        if pad_h > 0 or pad_w > 0:
            x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn2d(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS_VISUAL)


class Shortcut(nn.Module):
    """The projection shortcut of a block's first unit: 1x1 convolution (with the block's
    stride) and BatchNorm."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)
        self.bn = _bn2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class BottleneckUnit(nn.Module):
    """1x1 (stride s) -> 3x3 -> 1x1 (x4 channels), each followed by BatchNorm, ReLU between,
    residual added before the last ReLU."""

    EXPANSION = 4

    def __init__(self, in_channels: int, width: int, stride: int, project: bool) -> None:
        super().__init__()
        out_channels = width * self.EXPANSION
        self.reduce = nn.Conv2d(in_channels, width, 1, stride=stride, bias=False)
        self.reduce_bn = _bn2d(width)
        self.spatial = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.spatial_bn = _bn2d(width)
        self.expand = nn.Conv2d(width, out_channels, 1, bias=False)
        self.expand_bn = _bn2d(out_channels)
        self.shortcut: Optional[Shortcut] = Shortcut(in_channels, out_channels, stride) if project else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.reduce_bn(self.reduce(x)))
        y = F.relu(self.spatial_bn(self.spatial(y)))
        y = self.expand_bn(self.expand(y))
        skip = x if self.shortcut is None else self.shortcut(x)
        return F.relu(y + skip)


class Stem(nn.Module):
    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.conv = TfSameConv2d(in_channels, 64, 7, stride=2, bias=False)
        self.bn = _bn2d(64)
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(F.relu(self.bn(self.conv(x))))


RESNET50_UNITS = (3, 4, 6, 3)
RESNET50_WIDTHS = (64, 128, 256, 512)


class StaticResNet50(nn.Module):
    """VS. Input [N, 3, 224, 224] BGR minus the channel means; output (logits [N, 7],
    features [N, 512])."""

    def __init__(self, num_classes: int = 7, in_channels: int = 3) -> None:
        super().__init__()
        self.stem = Stem(in_channels)
        stages: List[nn.Module] = []
        channels = 64
        for index, (units, width) in enumerate(zip(RESNET50_UNITS, RESNET50_WIDTHS)):
            stride = 1 if index == 0 else 2
            stage: List[nn.Module] = []
            for unit in range(units):
                stage.append(BottleneckUnit(channels, width, stride if unit == 0 else 1, project=unit == 0))
                channels = width * BottleneckUnit.EXPANSION
            stages.append(nn.Sequential(*stage))
        self.stages = nn.Sequential(*stages)
        self.embed = nn.Linear(channels, 512)
        self.classify = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        x = self.stages(self.stem(x))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        features = F.relu(self.embed(x))
        return self.classify(features), features


# ----------------------------------------------------------------------------------------------
# VD: dynamic visual model


class DynamicLstm(nn.Module):
    """VD. Input [N, T, 512] (T = 10 in the method); output logits [N, 7] from the last step."""

    def __init__(self, num_classes: int = 7) -> None:
        super().__init__()
        self.temporal1 = nn.LSTM(input_size=512, hidden_size=512, batch_first=True)
        self.temporal2 = nn.LSTM(input_size=512, hidden_size=256, batch_first=True)
        self.classify = nn.Linear(256, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, _ = self.temporal1(x)
        x, _ = self.temporal2(x)
        return self.classify(x[:, -1, :])


# ----------------------------------------------------------------------------------------------
# A: acoustic model

W2V2_WIDTH = 1024
W2V2_LAYERS = 12
W2V2_HEADS = 16
W2V2_FFN = 4096
W2V2_POS_KERNEL = 128
W2V2_POS_GROUPS = 16
WINDOW_SAMPLES = 64000
NORM_EPS = 1e-7


def build_w2v2(layers: int = W2V2_LAYERS) -> nn.Module:
    """torchaudio's Wav2Vec2Model with the configuration of wav2vec2-large-robust(-12): layer-norm
    feature extractor with conv bias, width 1024, 16 heads, 4096 feed-forward, layer norm first,
    convolutional positions (kernel 128, 16 groups). No dropout (inference)."""
    return wav2vec2_model(
        extractor_mode="layer_norm",
        extractor_conv_layer_config=None,
        extractor_conv_bias=True,
        encoder_embed_dim=W2V2_WIDTH,
        encoder_projection_dropout=0.0,
        encoder_pos_conv_kernel=W2V2_POS_KERNEL,
        encoder_pos_conv_groups=W2V2_POS_GROUPS,
        encoder_num_layers=layers,
        encoder_num_heads=W2V2_HEADS,
        encoder_attention_dropout=0.0,
        encoder_ff_interm_features=W2V2_FFN,
        encoder_ff_interm_dropout=0.0,
        encoder_dropout=0.0,
        encoder_layer_norm_first=True,
        encoder_layer_drop=0.0,
        aux_num_out=None,
    )


def w2v2_hidden_states(model: nn.Module, waveform: torch.Tensor) -> torch.Tensor:
    """The last hidden state of the backbone, as Hugging Face's Wav2Vec2Model (stable layer norm)
    computes it: conv features -> projection -> + convolutional positions -> layers -> final
    LayerNorm. torchaudio 0.13's Transformer.forward applies that final LayerNorm BEFORE the
    layers when layer_norm_first is set, so its forward is not used; its modules are."""
    features, _ = model.feature_extractor(waveform, None)
    x = model.encoder.feature_projection(features)
    transformer = model.encoder.transformer
    x = x + transformer.pos_conv_embed(x)
    for layer in transformer.layers:
        x = layer(x, None)
    return transformer.layer_norm(x)


def sinusoidal_positions(length: int, width: int) -> torch.Tensor:
    """[1, length, width]: sin on even, cos on odd features, wavelengths up to 10000."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(10000.0) / width))
    table = torch.zeros(length, width)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency)
    return table.unsqueeze(0)


class PostNormAttentionLayer(nn.Module):
    """x + positions -> multi-head self-attention (no biases, scores / sqrt(head size)) ->
    add & LayerNorm -> Linear(1024, 1024), ReLU, Linear(1024, 1024) -> add & LayerNorm."""

    MAX_POSITIONS = 5000

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        if width % heads != 0:
            raise ValueError(f"width {width} is not divisible by {heads} heads")
        self.heads = heads
        self.head_size = width // heads
        self.q = nn.Linear(width, width, bias=False)
        self.k = nn.Linear(width, width, bias=False)
        self.v = nn.Linear(width, width, bias=False)
        self.out = nn.Linear(width, width, bias=False)
        self.norm_attn = nn.LayerNorm(width)
        self.ffn_in = nn.Linear(width, width)
        self.ffn_out = nn.Linear(width, width)
        self.norm_ffn = nn.LayerNorm(width)
        self.register_buffer("positions", sinusoidal_positions(self.MAX_POSITIONS, width), persistent=False)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        batch, length = x.shape[0], x.shape[1]
        return x.reshape(batch, length, self.heads, self.head_size).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape[0], x.shape[1], x.shape[2]
        x = x + self.positions[:, :length]
        q, k, v = self._split(self.q(x)), self._split(self.k(x)), self._split(self.v(x))
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.head_size)
        attended = torch.matmul(torch.softmax(scores, dim=-1), v)
        attended = attended.transpose(1, 2).reshape(batch, length, width)
        x = self.norm_attn(self.out(attended) + x)
        return self.norm_ffn(self.ffn_out(F.relu(self.ffn_in(x))) + x)


class TimeReduction(nn.Module):
    """Over time: Conv1d(k5, s3, d2) -> BatchNorm -> MaxPool(5) -> ReLU -> Conv1d(k3) -> BatchNorm
    -> global average -> ReLU. Input [N, C, T], output [N, C]."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(width, width, kernel_size=5, stride=3, dilation=2)
        self.bn1 = nn.BatchNorm1d(width)
        self.conv2 = nn.Conv1d(width, width, kernel_size=3)
        self.bn2 = nn.BatchNorm1d(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(F.max_pool1d(self.bn1(self.conv1(x)), 5))
        x = self.bn2(self.conv2(x))
        return F.relu(torch.mean(x, dim=2))


class AcousticHead(nn.Module):
    def __init__(self, num_classes: int, width: int = W2V2_WIDTH) -> None:
        super().__init__()
        self.attn1 = PostNormAttentionLayer(width, 32)
        self.attn2 = PostNormAttentionLayer(width, 16)
        self.reduce = TimeReduction(width)
        self.classify = nn.Linear(width, num_classes)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        x = self.attn2(self.attn1(hidden))
        return self.classify(self.reduce(x.transpose(1, 2)))


def normalise_windows(waveform: torch.Tensor) -> torch.Tensor:
    """Per row: (x - mean) / sqrt(var + 1e-7), population variance (the wav2vec2 feature
    extractor's zero-mean unit-variance normalisation)."""
    mean = waveform.mean(dim=1, keepdim=True)
    centred = waveform - mean
    variance = (centred * centred).mean(dim=1, keepdim=True)
    return centred / torch.sqrt(variance + NORM_EPS)


class AcousticModel(nn.Module):
    """A. Input [N, 64000] (4 s at 16 kHz, raw or already normalised); output logits [N, classes]."""

    def __init__(self, num_classes: int = 8, layers: int = W2V2_LAYERS) -> None:
        super().__init__()
        self.layers = layers
        self.backbone = build_w2v2(layers)
        self.head = AcousticHead(num_classes)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.head(w2v2_hidden_states(self.backbone, normalise_windows(waveform)))

    def bake_weight_norm(self) -> None:
        """Folds the positional convolution's weight normalisation into a plain weight (for export
        and faster inference); after this the module's state dict has conv.weight instead of
        conv.weight_g / conv.weight_v."""
        conv = self.backbone.encoder.transformer.pos_conv_embed.conv
        if hasattr(conv, "weight_g"):
            torch.nn.utils.remove_weight_norm(conv)


# ----------------------------------------------------------------------------------------------
# Random weights for tests and benchmarks


@torch.no_grad()
def calibrate_batchnorm(model: nn.Module, batches: List[torch.Tensor]) -> None:
    """Sets every BatchNorm's running statistics to the statistics of the given inputs (cumulative
    average over the batches), with everything else in eval mode, so randomly initialised
    networks produce activations of a sensible size, as trained ones do."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    model.eval()
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
        norm.train()
    for batch in batches:
        model(batch)
    for norm in norms:
        norm.momentum = 0.1
    model.eval()
