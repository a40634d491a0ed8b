"""The compact acoustic model: a log-mel front end built from plain ops (exports to ONNX with
torch 1.13) and a small convolutional network with masked pooling over time.

Input: [batch, 64000] float32, one 4 s window at 16 kHz (src/stages/acoustic.ts pads a short window
with its mean and normalises it; the same normalisation is repeated here, it is idempotent).
Output: [batch, 8] logits in the paper's 8-class acoustic order (CANONICAL_LABELS + Other).
"""
import math
from typing import List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

SAMPLE_RATE = 16000
WINDOW_SAMPLES = 64000
NORMALISE_EPSILON = 1e-7

# The paper's 8-class acoustic order (tools/export: CANONICAL_LABELS + ["Other"]; src/core/emotions.ts).
LABELS: List[str] = ["Neutral", "Anger", "Disgust", "Fear", "Happiness", "Sadness", "Surprise", "Other"]
SURPRISE = LABELS.index("Surprise")
# The classes the network is trained on (all but Surprise), in output order of the trained head.
TRAINED: List[str] = [label for label in LABELS if label != "Surprise"]

# Front end
# Defaults (train.py --stft-window, --mels): a 50 ms window resolves the harmonics of most voices
# (bins 20 Hz apart), 128 bands keep them apart below 1 kHz (about 23 Hz apart there). The earlier
# 25 ms / 64-band front end is --stft-window 400 --mels 64.
WIN = 800  # 50 ms Hann window
HOP = 256  # 16 ms
N_BINS = WIN // 2 + 1
N_MELS = 128
F_MIN, F_MAX = 50.0, 8000.0
LOG_EPS = 1e-6
# A frame is valid (holds audio) when its energy exceeds this: the stage's padding is exactly 0
# after normalisation (about 1e-16 after the in-graph repeat), as is digital silence.
VALID_ENERGY = 1e-6
N_FRAMES = (WINDOW_SAMPLES - WIN) // HOP + 1  # 247 (249 with a 400-sample window)


def frames_for_samples(samples: int, win: int = WIN) -> int:
    return (samples - win) // HOP + 1


def samples_for_frames(frames: int, win: int = WIN) -> int:
    return (frames - 1) * HOP + win


class LogMel(nn.Module):
    """Waveform [B, T] -> (features [B, 1, N_MELS, frames], mask [B, 1, frames]).

    Normalise (x - mean) / sqrt(var + 1e-7) over the whole window (as the stage does), STFT as a
    Conv1d with fixed windowed DFT kernels, power, mel matrix, log(x + 1e-6); frames without audio
    (energy <= VALID_ENERGY: the window's padding) are masked; the features are the log-mel minus
    its mean over the valid frames and bands (a level normalisation), zero where masked.

    `norm_length` lets training run the STFT on the first samples only (the rest of the window is
    padding) while normalising over the full window length, which gives the same frames.
    """

    def __init__(self, n_mels: int = N_MELS, win: int = WIN) -> None:
        super().__init__()
        import torchaudio

        self.n_mels, self.win, self.n_bins = n_mels, win, win // 2 + 1
        n = torch.arange(win, dtype=torch.float64)
        window = 0.5 - 0.5 * torch.cos(2 * math.pi * n / win)  # periodic Hann
        k = torch.arange(self.n_bins, dtype=torch.float64)
        angle = 2 * math.pi * k[:, None] * n[None, :] / win
        kernel = torch.cat([torch.cos(angle) * window, -torch.sin(angle) * window], 0)
        self.register_buffer("dft", kernel.float().unsqueeze(1))  # [2*n_bins, 1, win]
        fb = torchaudio.functional.melscale_fbanks(self.n_bins, F_MIN, F_MAX, n_mels, SAMPLE_RATE, norm="slaney", mel_scale="slaney")
        self.register_buffer("mel", fb.float())  # [n_bins, n_mels]

    def forward(self, x: torch.Tensor, norm_length: int = WINDOW_SAMPLES) -> Tuple[torch.Tensor, torch.Tensor]:
        # Normalisation over the padded window: samples past x's end are zeros (padding).
        mean = x.sum(dim=1, keepdim=True) / norm_length
        centred = x - mean
        if norm_length == x.shape[1]:
            var = (centred * centred).mean(dim=1, keepdim=True)
        else:  # the padding (zeros in x's frame of reference, -mean after centring) counts too
            var = ((centred * centred).sum(dim=1, keepdim=True) + (norm_length - x.shape[1]) * mean * mean) / norm_length
        x = centred / torch.sqrt(var + NORMALISE_EPSILON)
        spec = F.conv1d(x.unsqueeze(1), self.dft, stride=HOP)  # [B, 2*N_BINS, frames]
        re, im = spec[:, : self.n_bins], spec[:, self.n_bins :]
        power = re * re + im * im
        mask = (power.sum(dim=1, keepdim=True) > VALID_ENERGY).float()  # [B, 1, frames]
        logmel = torch.log(torch.matmul(power.transpose(1, 2), self.mel) + LOG_EPS).transpose(1, 2)  # [B, mels, frames]
        count = mask.sum(dim=2, keepdim=True).clamp(min=1.0) * self.n_mels
        level = (logmel * mask).sum(dim=(1, 2), keepdim=True) / count
        feats = (logmel - level) * mask
        return feats.unsqueeze(1), mask


POOLS = ("meanmax", "meanstd", "meanstdmax")


def pool_width(pool: str) -> int:
    return len(pool.replace("mean", "a").replace("std", "b").replace("max", "c"))


def masked_pool(h: torch.Tensor, mask: torch.Tensor, pool: str = "meanmax") -> torch.Tensor:
    """h [B, C, T], mask [B, 1, T] -> [B, kC]: mean and max (meanmax), mean and standard deviation
    (meanstd) or all three (meanstdmax) over the valid frames."""
    count = mask.sum(dim=2).clamp(min=1.0)
    mean = (h * mask).sum(dim=2) / count
    out = [mean]
    if "std" in pool:
        d = (h - mean.unsqueeze(2)) * mask
        out.append(torch.sqrt((d * d).sum(dim=2) / count + 1e-5))
    if "max" in pool:
        peak = (h * mask + (mask - 1.0) * 1e4).max(dim=2).values
        out.append(peak * (mask.max(dim=2).values))  # no valid frame: 0 instead of -1e4
    return torch.cat(out, 1)


def band_mean_normalise(feats: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Subtracts each band's mean over the valid frames (cepstral-mean-style normalisation of the
    log-mel: removes the spectral colouring of the channel and, partly, of the speaker); zero
    where masked. feats [B, 1, mels, T], mask [B, 1, T]."""
    m = mask.unsqueeze(1)  # [B, 1, 1, T]
    count = m.sum(dim=3, keepdim=True).clamp(min=1.0)
    return (feats - (feats * m).sum(dim=3, keepdim=True) / count) * m


class ConvNet2d(nn.Module):
    """Four 3x3 conv blocks (BN, ReLU, 2x2 max-pool after the first three), mean over frequency,
    masked mean+max over time, dropout, linear. Activations are re-masked after every block, so
    padding frames are exactly zero at every layer (a cropped input gives the same output)."""

    def __init__(self, channels: List[int], n_out: int, dropout: float, cmn: bool = False, n_mels: int = N_MELS, pool: str = "meanmax") -> None:
        super().__init__()
        self.cmn, self.pool = cmn, pool
        blocks = []
        c_in = 1
        for c in channels:
            blocks.append(nn.Sequential(nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU()))
            c_in = c
        self.blocks = nn.ModuleList(blocks)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(pool_width(pool) * c_in, n_out)

    def forward(self, feats: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = band_mean_normalise(feats, mask) if self.cmn else feats
        m = mask.unsqueeze(2)  # [B, 1, 1, T]
        for i, block in enumerate(self.blocks):
            h = block(h) * m
            if i < len(self.blocks) - 1:
                h = F.max_pool2d(h, 2)
                m = F.max_pool2d(m, (1, 2))
        h = h.mean(dim=2)  # over frequency: [B, C, T]
        return self.head(self.drop(masked_pool(h, m.squeeze(2), self.pool)))


class ConvNet1d(nn.Module):
    """Mel bands as channels: Conv1d blocks (BN, ReLU, max-pool 2 after all but the last), masked
    mean+max over time, dropout, linear; re-masked after every block."""

    def __init__(self, channels: List[int], n_out: int, dropout: float, cmn: bool = False, n_mels: int = N_MELS, pool: str = "meanmax") -> None:
        super().__init__()
        self.cmn, self.pool = cmn, pool
        blocks = []
        c_in = n_mels
        for i, c in enumerate(channels):
            k = 5 if i < 2 else 3
            blocks.append(nn.Sequential(nn.Conv1d(c_in, c, k, padding=k // 2, bias=False), nn.BatchNorm1d(c), nn.ReLU()))
            c_in = c
        self.blocks = nn.ModuleList(blocks)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(pool_width(pool) * c_in, n_out)

    def forward(self, feats: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = (band_mean_normalise(feats, mask) if self.cmn else feats).squeeze(1)
        m = mask
        for i, block in enumerate(self.blocks):
            h = block(h) * m
            if i < len(self.blocks) - 1:
                h = F.max_pool1d(h, 2)
                m = F.max_pool1d(m, 2)
        return self.head(self.drop(masked_pool(h, m, self.pool)))


def make_net(arch: str, channels: List[int], dropout: float, cmn: bool = False, n_mels: int = N_MELS, pool: str = "meanmax") -> nn.Module:
    if arch == "cnn2d":
        return ConvNet2d(channels, len(TRAINED), dropout, cmn, n_mels, pool)
    if arch == "cnn1d":
        return ConvNet1d(channels, len(TRAINED), dropout, cmn, n_mels, pool)
    raise ValueError(f"unknown arch {arch}")


class Ensemble(nn.Module):
    """The mean of the logits of several nets (trained with different seeds) on the same features."""

    def __init__(self, nets: List[nn.Module]) -> None:
        super().__init__()
        self.nets = nn.ModuleList(nets)

    def forward(self, feats: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        out = self.nets[0](feats, mask)
        for net in self.nets[1:]:
            out = out + net(feats, mask)
        return out / len(self.nets)


class AcousticModel(nn.Module):
    """Raw window [B, 64000] -> 8 logits (LABELS order). The trained head gives the 7 TRAINED
    logits; Surprise, which the corpus does not have, gets the logit that makes its probability
    exactly `surprise_prob` among the 7 canonical classes (Other dropped, softmax: what the
    acoustic stage does), whatever the audio."""

    def __init__(self, net: nn.Module, surprise_prob: float, n_mels: int = N_MELS, win: int = WIN) -> None:
        super().__init__()
        self.frontend = LogMel(n_mels, win)
        self.net = net
        self.surprise_offset = math.log(surprise_prob / (1.0 - surprise_prob))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats, mask = self.frontend(x)
        trained = self.net(feats, mask)  # [B, 7]: Neutral … Sadness, Other
        basic = trained[:, :SURPRISE]
        surprise = torch.logsumexp(basic, dim=1, keepdim=True) + self.surprise_offset
        return torch.cat([basic, surprise, trained[:, SURPRISE:]], 1)
