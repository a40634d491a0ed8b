#!/usr/bin/python3
"""Trains the compact acoustic (A) model on EMO-DB and exports it to ONNX with a `cer` manifest.

  /usr/bin/python3 tools/train-acoustic/train.py --data ../shared/data/emodb --out DIR [--seed 1] [--loso]
  /usr/bin/python3 tools/train-acoustic/train.py --data ../shared/data/emodb --out /tmp/x --subset 24 --epochs 1   # quick test

--loso first judges the configuration speaker-independently (leave one speaker out over the 8
speakers), then the final model is trained on all of them (--no-final skips it). Writes
<id>.onnx and <id>.json (manifest) in --out, and in <id>.training/: report.json, report.md and
reference/ (inputs and PyTorch logits, checked against onnxruntime-node by check_onnx.cjs).

Needs Debian's python3-torch (1.13), python3-torchaudio and python3-onnx; node with the project's
onnxruntime-node for the ONNX check and timing (skipped with a note when missing). See README.md.
"""
import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
import wave
from typing import Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
# tools/export's helpers (checksums, atomic JSON), shared rather than written again here.
EXPORT_TOOL = os.path.join(REPO_ROOT, "tools", "export")
if EXPORT_TOOL not in sys.path:
    sys.path.append(EXPORT_TOOL)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree

REQUIRED = (("torch", "python3-torch"), ("torchaudio", "python3-torchaudio"), ("onnx", "python3-onnx"), ("numpy", "python3-numpy"))

# EMO-DB emotion -> the model's trained classes (Boredom is not a basic emotion: Other).
EMODB_TO_LABEL = {
    "neutral": "Neutral",
    "anger": "Anger",
    "disgust": "Disgust",
    "fear": "Fear",
    "happiness": "Happiness",
    "sadness": "Sadness",
    "boredom": "Other",
}
CORPUS_CREDIT = (
    'EMO-DB, the Berlin Database of Emotional Speech: F. Burkhardt, A. Paeschke, M. Rolfes, W. Sendlmeier, B. Weiss, '
    '"A Database of German Emotional Speech", Interspeech 2005; CC0 1.0 as published by audEERING (audb database emodb)'
)
STEP_SAMPLES = 8000
POOL_TEXT = {"meanmax": "mean+max", "meanstd": "mean+standard deviation", "meanstdmax": "mean+standard deviation+max"}


class TrainError(Exception):
    """A user-facing error; printed as one line."""


def log(msg: str) -> None:
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


# ----------------------------------------------------------------------------------------------
# Corpus and windows


def read_wav(path: str):
    import numpy as np

    with wave.open(path, "rb") as w:
        if w.getframerate() != 16000 or w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise TrainError(f"{path}: expected 16 kHz mono 16-bit PCM")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0


def load_corpus(data: str) -> List[Dict[str, object]]:
    labels_path = os.path.join(data, "labels.csv")
    if not os.path.isfile(labels_path):
        raise TrainError(f"{labels_path}: not found (--data is the emodb folder with labels.csv and wav/)")
    from model import TRAINED

    items = []
    with open(labels_path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            emotion = row["emotion"].strip().lower()
            if emotion not in EMODB_TO_LABEL:
                raise TrainError(f"{labels_path}: unknown emotion {emotion!r} for {row['file']}")
            items.append({
                "file": row["file"],
                "speaker": row["speaker"].strip(),
                "label": EMODB_TO_LABEL[emotion],
                "target": TRAINED.index(EMODB_TO_LABEL[emotion]),
                "audio": read_wav(os.path.join(data, "wav", row["file"])),
            })
    if not items:
        raise TrainError(f"{labels_path}: no utterances")
    return items


def stage_windows(x) -> List[Tuple[int, int]]:
    """(start, length) of the acoustic stage's windows over audio x: 4 s every 0.5 s from 0, for
    every start before the end; those reaching past the end hold what is left."""
    from model import WINDOW_SAMPLES

    return [(s, min(WINDOW_SAMPLES, len(x) - s)) for s in range(0, len(x), STEP_SAMPLES)]


def normalise_window(samples):
    """src/stages/acoustic.ts normaliseWindow: pad with the mean to 64000, (x - mean) / sqrt(var + 1e-7)
    with the population variance over the padded window, in float64; float32 out."""
    import numpy as np

    from model import NORMALISE_EPSILON, WINDOW_SAMPLES

    s = samples.astype(np.float64)
    n = len(s)
    if n == 0 or n > WINDOW_SAMPLES:
        raise ValueError(f"a window holds 1 to {WINDOW_SAMPLES} samples, got {n}")
    mean = s.sum() / n
    d = s - mean
    scale = 1.0 / np.sqrt((d * d).sum() / WINDOW_SAMPLES + NORMALISE_EPSILON)
    out = np.zeros(WINDOW_SAMPLES, dtype=np.float32)
    out[:n] = (d * scale).astype(np.float32)
    return out


# ----------------------------------------------------------------------------------------------
# Augmentation (waveform level; SpecAugment-style masks are applied on the fly in training)


def coloured_noise(n: int, rng):
    import numpy as np

    white = rng.standard_normal(n)
    kind = rng.integers(3)
    if kind == 0:
        return white
    spec = np.fft.rfft(white)
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    spec = spec / (np.sqrt(f) if kind == 1 else f)  # pink (1/f power) or brown (1/f^2)
    return np.fft.irfft(spec, n)


def augment(x, rng, sample_rate: int = 16000):
    """A random variant of utterance x: time shift, speed (resampling by 0.9-1.1, which moves pitch and
    tempo together), reverberation with a synthetic exponentially decaying noise impulse response,
    additive white/pink/brown noise at 5-30 dB SNR, random gain."""
    import numpy as np

    x = x.astype(np.float64)
    # Time shift: up to 0.25 s cut from the start or of silence put before it.
    shift = int(rng.integers(-sample_rate // 4, sample_rate // 4 + 1))
    if shift < 0:
        x = x[-shift:]
    elif shift > 0:
        x = np.concatenate([np.zeros(shift), x])
    # Speed / pitch: resample by r (linear interpolation), r in [0.9, 1.1].
    if rng.random() < 0.8:
        r = rng.uniform(0.9, 1.1)
        n = max(1, int(round(len(x) / r)))
        x = np.interp(np.arange(n) * r, np.arange(len(x)), x)
    # Reverberation.
    if rng.random() < 0.5:
        rt60 = rng.uniform(0.15, 0.9)
        length = int(min(rt60, 0.6) * sample_rate)
        t = np.arange(length) / sample_rate
        ir = rng.standard_normal(length) * np.exp(-6.9078 * t / rt60)
        ir[0] = 0.0
        ir *= rng.uniform(0.3, 1.0) / max(1e-9, np.sqrt((ir ** 2).sum()))  # direct-to-reverberant mix
        ir[0] = 1.0
        m = len(x) + length - 1
        size = 1 << (m - 1).bit_length()
        x = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(ir, size), size)[: len(x)]
    # Additive noise at a random SNR (over the speech part).
    if rng.random() < 0.7:
        snr = rng.uniform(5.0, 30.0)
        noise = coloured_noise(len(x), rng)
        power = np.mean(x[np.abs(x) > 0] ** 2) if np.any(x != 0) else 1e-6
        noise *= np.sqrt(power / (10 ** (snr / 10)) / max(1e-12, np.mean(noise ** 2)))
        x = x + noise
    # Gain (the stage's normalisation takes most of it away; it matters through clipping).
    x = x * 10 ** (rng.uniform(-12.0, 6.0) / 20)
    return np.clip(x, -1.0, 1.0).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Features


class Features:
    """Log-mel features of every stage window of every utterance variant (copy 0: the clean
    audio), computed once by the model's own front end and kept as float16. Only the first
    `frames` frames are kept: the rest of every window is padding (masked, exactly zero)."""

    def __init__(self, items, copies: int, seed: int, threads: int, n_mels: int, win: int) -> None:
        import numpy as np
        import torch

        from model import LogMel, WINDOW_SAMPLES, frames_for_samples, samples_for_frames

        rng = np.random.default_rng(seed)
        variants = []  # (utterance, copy, audio)
        for u, item in enumerate(items):
            variants.append((u, 0, item["audio"]))
            for c in range(1, copies + 1):
                variants.append((u, c, augment(item["audio"], rng)))
        longest = max(min(len(a), WINDOW_SAMPLES) for _, _, a in variants)
        n_frames = frames_for_samples(WINDOW_SAMPLES, win)
        frames = min(n_frames, -(-frames_for_samples(max(longest, win), win) // 8) * 8 + 8)
        crop = min(WINDOW_SAMPLES, samples_for_frames(frames, win)) if frames < n_frames else WINDOW_SAMPLES
        self.frames = frames if frames < n_frames else n_frames
        utt, copy, index, windows = [], [], [], []
        for u, c, audio in variants:
            for k, (start, length) in enumerate(stage_windows(audio)):
                utt.append(u)
                copy.append(c)
                index.append(k)
                windows.append((audio, start, length))
        self.utt = np.array(utt)
        self.copy = np.array(copy)
        self.index = np.array(index)
        n = len(windows)
        self.feats = torch.empty((n, 1, n_mels, self.frames), dtype=torch.float16)
        self.mask = torch.empty((n, 1, self.frames), dtype=torch.float32)
        front = LogMel(n_mels, win).eval()
        batch = 256
        with torch.no_grad():
            for b in range(0, n, batch):
                chunk = np.stack([normalise_window(a[s : s + l])[:crop] for a, s, l in windows[b : b + batch]])
                f, m = front(torch.from_numpy(chunk), norm_length=WINDOW_SAMPLES)
                self.feats[b : b + len(chunk)] = f[..., : self.frames].half()
                self.mask[b : b + len(chunk)] = m[..., : self.frames]
        self.pool: Dict[int, np.ndarray] = {}
        for u in range(len(items)):
            self.pool[u] = np.nonzero(self.utt == u)[0]
        self.clean: Dict[int, np.ndarray] = {u: np.nonzero((self.utt == u) & (self.copy == 0))[0] for u in range(len(items))}


def spec_augment(feats, mask, gen, freq_mask: int = 8):
    """Two frequency masks (up to freq_mask bands) and two time masks (up to 10 frames) per example, in place."""
    import torch

    b, _, bands, frames = feats.shape
    valid = mask[:, 0, :].sum(1)
    for i in range(b):
        for _ in range(2):
            w = int(torch.randint(0, freq_mask + 1, (1,), generator=gen))
            f0 = int(torch.randint(0, bands - w + 1, (1,), generator=gen))
            feats[i, :, f0 : f0 + w, :] = 0
            n = max(1, int(valid[i]))
            w = int(torch.randint(0, min(10, max(1, n // 4)) + 1, (1,), generator=gen))
            t0 = int(torch.randint(0, max(1, n - w + 1), (1,), generator=gen))
            feats[i, :, :, t0 : t0 + w] = 0
    return feats


# ----------------------------------------------------------------------------------------------
# Training and evaluation


def draw_windows(feats: "Features", u: int, n: int, clean_fraction: float, rng):
    """n training windows of utterance u: each from the clean audio with probability clean_fraction
    (negative: no preference, uniform over the clean and augmented variants), else from an
    augmented variant."""
    import numpy as np

    if clean_fraction < 0:
        return rng.choice(feats.pool[u], size=n, replace=True)
    clean = feats.clean[u]
    augmented = feats.pool[u][feats.copy[feats.pool[u]] > 0]
    if len(augmented) == 0:
        return rng.choice(clean, size=n, replace=True)
    pick_clean = rng.random(n) < clean_fraction
    return np.where(pick_clean, rng.choice(clean, size=n, replace=True), rng.choice(augmented, size=n, replace=True))


def draw_variant(feats: "Features", u: int, clean_fraction: float, rng):
    """The window indices of one variant of utterance u: the clean one with probability
    clean_fraction (negative: uniform over all variants), else a random augmented one."""
    copies = feats.copy[feats.pool[u]]
    n_aug = int(copies.max())
    if n_aug == 0 or (clean_fraction >= 0 and rng.random() < clean_fraction):
        c = 0
    elif clean_fraction < 0:
        c = int(rng.integers(0, n_aug + 1))
    else:
        c = int(rng.integers(1, n_aug + 1))
    return feats.pool[u][copies == c]


def train_net(args, feats: Features, items, train_utts: List[int], seed: int, tag: str):
    import numpy as np
    import torch
    import torch.nn.functional as F

    from model import TRAINED, make_net

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = make_net(args.arch, args.channels, args.dropout, args.cmn, args.mels, args.pool)
    mix_rng = np.random.default_rng(seed + 55)  # its own stream: the default (no mixup) draws stay as they were
    targets_all = np.array([items[u]["target"] for u in range(len(items))])
    counts = np.bincount(targets_all[train_utts], minlength=len(TRAINED)).astype(np.float64)
    weight = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / (counts > 0).sum(), 0.0)
    weight_t = torch.tensor(weight, dtype=torch.float32)
    per_epoch = len(train_utts) * args.windows_per_utt
    steps_per_epoch = max(1, -(-per_epoch // (max(2, args.batch // 4) if args.utterance_loss else args.batch)))
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps_per_epoch * args.epochs, pct_start=0.15)
    started = time.time()
    for epoch in range(args.epochs):
        net.train()
        if args.utterance_loss:
            # Whole variants (all the stage windows of one clean or augmented copy of an utterance);
            # the loss is on the mean of their logits, the decision the stage makes.
            groups = [draw_variant(feats, u, args.clean_fraction, rng) for u in train_utts for _ in range(args.windows_per_utt)]
            order = rng.permutation(len(groups))
            per_batch = max(2, args.batch // 4)
            batches = [[groups[i] for i in order[b : b + per_batch]] for b in range(0, len(order), per_batch)]
        else:
            chosen = np.concatenate([draw_windows(feats, u, args.windows_per_utt, args.clean_fraction, rng) for u in train_utts])
            rng.shuffle(chosen)
            batches = [[chosen[b : b + args.batch]] for b in range(0, len(chosen), args.batch)]
        total, correct, loss_sum = 0, 0, 0.0
        for batch_groups in batches:
            idx = np.concatenate(batch_groups)
            if len(idx) < 2:
                continue
            group = torch.from_numpy(np.repeat(np.arange(len(batch_groups)), [len(g) for g in batch_groups]))
            idx_t = torch.from_numpy(idx)
            x = feats.feats[idx_t].float()
            m = feats.mask[idx_t]
            if args.specaug:
                x = spec_augment(x, m, gen, args.freq_mask or max(1, args.mels // 8))
            mix = None
            if args.mixup > 0 and not args.utterance_loss:
                # mixup of the log-mel windows (zero where masked: the union of the masks holds both)
                lam = float(mix_rng.beta(args.mixup, args.mixup))
                perm = torch.from_numpy(mix_rng.permutation(len(idx)))
                x = lam * x + (1.0 - lam) * x[perm]
                m = torch.maximum(m, m[perm])
                mix = (lam, perm)
            logits = net(x, m)
            if args.utterance_loss:
                sizes = torch.tensor([len(g) for g in batch_groups], dtype=torch.float32)
                logits = torch.zeros(len(batch_groups), logits.shape[1]).index_add(0, group, logits) / sizes[:, None]
                y = torch.from_numpy(targets_all[[feats.utt[g[0]] for g in batch_groups]])
            else:
                y = torch.from_numpy(targets_all[feats.utt[idx]])
            loss = F.cross_entropy(logits, y, weight=weight_t, label_smoothing=args.label_smoothing)
            if mix is not None:
                loss = mix[0] * loss + (1.0 - mix[0]) * F.cross_entropy(logits, y[mix[1]], weight=weight_t, label_smoothing=args.label_smoothing)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss) * len(y)
            total += len(y)
            correct += int((logits.argmax(1) == y).sum())
        if epoch == args.epochs - 1 or (epoch + 1) % max(1, args.log_every) == 0:
            log(f"  [{tag}] epoch {epoch + 1}/{args.epochs}: loss {loss_sum / max(1, total):.3f}, train acc {correct / max(1, total):.3f}, {time.time() - started:.0f} s")
    net.eval()
    return net, time.time() - started


def train_ensemble(args, feats: Features, items, train_utts: List[int], seed: int, tag: str):
    """--ensemble K nets (member j seeded seed + 7919 j); one net as it is, several in an Ensemble."""
    from model import Ensemble

    nets, seconds = [], 0.0
    for j in range(args.ensemble_offset, args.ensemble_offset + args.ensemble):
        net, s = train_net(args, feats, items, train_utts, seed + 7919 * j, tag if args.ensemble == 1 else f"{tag} #{j}")
        nets.append(net)
        seconds += s
    return (nets[0] if len(nets) == 1 else Ensemble(nets).eval()), seconds


def utterance_logits(net, feats: Features, utts: List[int]):
    """Mean of the logits of each utterance's clean stage windows (as the stage averages the
    windows covering a frame)."""
    import numpy as np
    import torch

    out = []
    with torch.no_grad():
        for u in utts:
            idx = torch.from_numpy(feats.clean[u])
            out.append(net(feats.feats[idx].float(), feats.mask[idx]).mean(0).numpy())
    return np.stack(out)


def metrics(y_true, y_pred, n_classes: int) -> Dict[str, object]:
    import numpy as np

    cm = np.zeros((n_classes, n_classes), dtype=int)
    for t, p in zip(y_true, y_pred):
        cm[t, p] += 1
    support = cm.sum(1)
    recalls = [cm[c, c] / support[c] for c in range(n_classes) if support[c] > 0]
    return {
        "uar": float(np.mean(recalls)) if recalls else float("nan"),
        "accuracy": float(np.trace(cm) / max(1, cm.sum())),
        "n": int(cm.sum()),
        "recall": {c: (float(cm[c, c] / support[c]) if support[c] > 0 else None) for c in range(n_classes)},
        "confusion": cm.tolist(),
    }


def run_loso(args, feats: Features, items) -> Dict[str, object]:
    import numpy as np

    from model import TRAINED

    speakers = sorted({str(i["speaker"]) for i in items})
    if len(speakers) < 2:
        raise TrainError("leave-one-speaker-out needs at least two speakers")
    folds = []
    all_true, all_pred = [], []
    utt_logits: Dict[str, List[float]] = {}
    started = time.time()
    for k, spk in enumerate(speakers):
        test = [u for u, i in enumerate(items) if i["speaker"] == spk]
        train = [u for u, i in enumerate(items) if i["speaker"] != spk]
        net, seconds = train_ensemble(args, feats, items, train, args.seed + 1000 * (k + 1), f"fold {spk}")
        logits = utterance_logits(net, feats, test)
        for u, row in zip(test, logits):
            utt_logits[str(items[u]["file"])] = [round(float(v), 5) for v in row]
        y_true = [int(items[u]["target"]) for u in test]
        y_pred = [int(p) for p in logits.argmax(1)]
        m = metrics(y_true, y_pred, len(TRAINED))
        m.update({"speaker": spk, "sex": None, "trainSeconds": round(seconds, 1)})
        folds.append(m)
        all_true += y_true
        all_pred += y_pred
        log(f"fold speaker {spk}: UAR {m['uar']:.3f}, accuracy {m['accuracy']:.3f} ({m['n']} utterances, {seconds:.0f} s)")
    pooled = metrics(all_true, all_pred, len(TRAINED))
    mean_uar = float(np.mean([f["uar"] for f in folds]))
    mean_acc = float(np.mean([f["accuracy"] for f in folds]))
    log(f"LOSO pooled: UAR {pooled['uar']:.3f}, accuracy {pooled['accuracy']:.3f}; mean over folds: UAR {mean_uar:.3f}, accuracy {mean_acc:.3f} ({time.time() - started:.0f} s)")
    return {"classes": TRAINED, "folds": folds, "pooled": pooled, "meanFoldUar": mean_uar, "meanFoldAccuracy": mean_acc, "seconds": round(time.time() - started, 1), "utteranceLogits": utt_logits}


# ----------------------------------------------------------------------------------------------
# Export, manifest, reference, report


def write_text(path: str, text: str) -> None:
    partial = path + f".partial-{os.getpid()}"
    with open(partial, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(partial, path)


def export_onnx(model, path: str, opset: int) -> None:
    """torch.onnx.export to a temporary name, checked, then renamed (no half-written model)."""
    import warnings

    import onnx
    import torch

    from model import WINDOW_SAMPLES

    partial = path + f".partial-{os.getpid()}"
    example = torch.zeros(2, WINDOW_SAMPLES)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (example,),
                partial,
                input_names=["input"],
                output_names=["logits"],
                dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                opset_version=opset,
                do_constant_folding=True,
            )
        onnx.checker.check_model(onnx.load(partial))
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def reference_windows(items, seed: int):
    """Inputs for the ONNX check: stage windows of two utterances (a full-length one and a short
    tail), normalised as the stage does, and a raw (unnormalised) noisy window."""
    import numpy as np

    rng = np.random.default_rng(seed)
    a = items[0]["audio"]
    b = items[len(items) // 2]["audio"]
    wins = [normalise_window(a), normalise_window(b[len(b) - min(len(b), 8000):])]
    raw = np.zeros(64000, dtype=np.float32)
    raw[:40000] = 0.05 * rng.standard_normal(40000) + 0.02
    raw[:len(a)] += a
    wins.append(raw)
    wins.append((0.3 * rng.standard_normal(64000)).astype(np.float32))
    return np.stack(wins).astype(np.float32)


def save_reference(full_model, inputs, folder: str) -> Dict[str, object]:
    from export import write_json
    import numpy as np
    import torch

    os.makedirs(folder, exist_ok=True)
    with torch.no_grad():
        out = full_model(torch.from_numpy(inputs)).numpy().astype("<f4")
    inputs.astype("<f4").tofile(os.path.join(folder, "input.f32"))
    out.tofile(os.path.join(folder, "logits.f32"))
    info = {"input": "input.f32", "inputShape": list(inputs.shape), "output": "logits.f32", "outputShape": list(out.shape), "dtype": "float32 little-endian"}
    write_json(os.path.join(folder, "reference.json"), info)
    return info


def check_with_node(onnx_path: str, folder: str, repeats: int) -> Dict[str, object]:
    node = shutil.which("node")
    if node is None:
        return {"skipped": "node not found"}
    script = os.path.join(HERE, "check_onnx.cjs")
    done = subprocess.run([node, script, onnx_path, folder, "--repeats", str(repeats)], capture_output=True, text=True, cwd=REPO_ROOT)
    if done.returncode != 0:
        return {"skipped": (done.stderr or done.stdout).strip().splitlines()[-1] if (done.stderr or done.stdout).strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def manifest_for(args, model_id: str, onnx_name: str, sha: str, n_params: int, train_info: Dict[str, object], loso: Optional[Dict[str, object]]) -> Dict[str, object]:
    import torch

    from model import F_MAX, F_MIN, HOP, LABELS

    N_MELS, WIN = args.mels, args.stft_window

    loso_text = ""
    if loso is not None:
        loso_text = f" Leave-one-speaker-out on the 8 speakers: UAR {loso['pooled']['uar']:.3f}, accuracy {loso['pooled']['accuracy']:.3f} (pooled over folds)."
    arch = "2-D CNN" if args.arch == "cnn2d" else "1-D CNN (mel bands as channels)"
    description = (
        f"Compact acoustic emotion model (A) trained here on EMO-DB (German acted speech, {train_info['utterances']} utterances, "
        f"{train_info['speakers']} speakers) by tools/train-acoustic: in-graph normalisation ((x - mean) / sqrt(var + 1e-7) over the "
        f"window, as the acoustic stage does), log-mel front end ({N_MELS} bands {F_MIN:g}-{F_MAX:g} Hz, {WIN / 16:g} ms Hann window, "
        f"{HOP / 16:g} ms hop; STFT as a convolution with fixed DFT kernels), padding frames masked, "
        + ("each band's mean over the valid frames subtracted, " if args.cmn else "")
        + (f"an ensemble of {args.ensemble} " if args.ensemble > 1 else "")
        + f"{arch} {args.channels} with masked "
        f"{POOL_TEXT[args.pool]} pooling over time, linear to 7 classes" + (" (their logits averaged)" if args.ensemble > 1 else "") + f"; {n_params} parameters. Input: a 4 s window at 16 kHz, mono. Output: logits in "
        "the paper's 8-class order (canonical + Other; Other is EMO-DB's boredom). EMO-DB has no Surprise: its logit is set so that "
        f"Surprise gets probability {args.surprise_prob:g} among the 7 canonical classes for any one window, whatever the audio (a little more "
        "for a frame whose windows' logits the stage averages): no information, never a vote for it."
        + loso_text
        + " Trained on German acted speech only: expect lower accuracy on spontaneous speech, other languages and recording conditions."
    )
    return {
        "id": model_id,
        "task": "acoustic",
        "file": onnx_name,
        "sha256": sha,
        "licence": "MIT (trained by this project on EMO-DB, CC0 1.0)",
        "nonCommercial": False,
        "source": f"trained by tools/train-acoustic/train.py (seed {args.seed}) on {CORPUS_CREDIT}",
        "description": description,
        "input": {"name": "input", "shape": [-1, 64000], "layout": "NT", "dtype": "float32"},
        "outputs": {"scores": "logits"},
        "outputKind": "logits",
        "labels": LABELS,
        "extra": {
            "sampleRate": 16000,
            "windowSamples": 64000,
            "normalisedInGraph": True,
            "surpriseProbability": args.surprise_prob,
            "frontEnd": {"melBands": N_MELS, "fMin": F_MIN, "fMax": F_MAX, "windowSamples": WIN, "hopSamples": HOP, "log": "ln(mel power + 1e-6), minus its mean over the valid frames and bands"},
            "training": {
                "tool": "tools/train-acoustic/train.py",
                "torch": torch.__version__,
                "opset": args.opset,
                "corpus": "emodb",
                "corpusCredit": CORPUS_CREDIT,
                "labelMap": {k: v for k, v in EMODB_TO_LABEL.items()},
                "config": config_dict(args),
                "utterances": train_info["utterances"],
                "speakers": train_info["speakers"],
                "seconds": train_info["seconds"],
                "loso": None if loso is None else {"uar": round(loso["pooled"]["uar"], 4), "accuracy": round(loso["pooled"]["accuracy"], 4), "meanFoldUar": round(loso["meanFoldUar"], 4)},
            },
        },
    }


def config_dict(args) -> Dict[str, object]:
    return {
        "arch": args.arch, "channels": args.channels, "dropout": args.dropout, "epochs": args.epochs, "batch": args.batch, "lr": args.lr,
        "weightDecay": args.weight_decay, "labelSmoothing": args.label_smoothing, "copies": args.copies, "windowsPerUtterance": args.windows_per_utt,
        "specAugment": args.specaug, "cleanFraction": args.clean_fraction, "utteranceLoss": args.utterance_loss, "cmn": args.cmn, "seed": args.seed, "subset": args.subset,
        "melBands": args.mels, "stftWindow": args.stft_window, "pool": args.pool, "freqMask": args.freq_mask or max(1, args.mels // 8), "mixup": args.mixup, "ensemble": args.ensemble,
    }


def ms_text(check: Dict[str, object]) -> str:
    if "msPerWindow" not in check:
        return f"not measured ({check.get('skipped')})"
    return f"{check['msPerWindow']:.2f} ms mean, {check['msPerWindowMedian']:.2f} ms median (one core shared with other work)"


def report_markdown(summary: Dict[str, object]) -> str:
    from model import TRAINED

    lines = [f"# Training report: {summary['id']}", ""]
    lines.append(f"Configuration: `{json.dumps(summary['config'])}`")
    lines.append("")
    loso = summary.get("loso")
    short = ["Ne", "An", "Di", "Fe", "Ha", "Sa", "Ot"]
    if loso:
        lines += ["## Leave-one-speaker-out (utterance decisions: mean of the windows' logits)", "",
                  "| test speaker | utterances | UAR | accuracy |", "|---|---|---|---|"]
        for f in loso["folds"]:
            lines.append(f"| {f['speaker']} | {f['n']} | {f['uar']:.3f} | {f['accuracy']:.3f} |")
        p = loso["pooled"]
        lines.append(f"| **pooled** | {p['n']} | **{p['uar']:.3f}** | **{p['accuracy']:.3f}** |")
        lines.append(f"| mean of folds | | {loso['meanFoldUar']:.3f} | {loso['meanFoldAccuracy']:.3f} |")
        lines += ["", "UAR over the classes EMO-DB has (Neutral, Anger, Disgust, Fear, Happiness, Sadness, Other = boredom).", "",
                  "Pooled confusion matrix (rows: true, columns: predicted):", "",
                  "| | " + " | ".join(short) + " | recall |", "|---" * (len(short) + 2) + "|"]
        for c, row in enumerate(p["confusion"]):
            r = row[c] / sum(row) if sum(row) > 0 else None
            lines.append(f"| {short[c]} | " + " | ".join(str(v) for v in row) + (f" | {r:.2f} |" if r is not None else " | - |"))
        lines.append("")
        lines.append(f"LOSO time: {loso['seconds']:.0f} s.")
        lines.append("")
    final = summary.get("final")
    if final:
        lines += ["## Final model", "",
                  f"- trained on {final['utterances']} utterances of {final['speakers']} speakers in {final['seconds']:.0f} s",
                  f"- {final['parameters']} parameters, ONNX {final['bytes'] / 1e6:.2f} MB (`{final['model']}`)",
                  f"- ONNX (onnxruntime-node) vs PyTorch, max |diff| of the logits: "
                  + (f"{final['check']['maxAbsDiff']:.1e}" if "maxAbsDiff" in final["check"] else f"not checked ({final['check'].get('skipped')})"),
                  f"- one 4 s window on one thread (onnxruntime-node): {ms_text(final['check'])}",
                  f"- full 4 s graph vs the cropped training path, max |diff| of the logits: {final['fullGraphVsTrainingPathMaxDiff']:.1e} (features kept as float16 in training)",
                  ""]
    lines.append("Configurations tried and what the model cannot do: tools/train-acoustic/README.md.")
    _ = TRAINED
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="train.py", description="Train the compact acoustic model on EMO-DB and export it to ONNX with a cer manifest.")
    p.add_argument("--data", required=True, help="the emodb folder (labels.csv, wav/)")
    p.add_argument("--out", required=True, help="folder for <id>.onnx, <id>.json and the reports")
    p.add_argument("--id", default="a-emodb-cnn-8cl", help="manifest id")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--loso", action="store_true", help="judge the configuration leave-one-speaker-out first")
    p.add_argument("--no-final", action="store_true", help="with --loso: skip the final model")
    p.add_argument("--subset", type=int, default=0, metavar="N", help="use N utterances only (spread over speakers and emotions): a quick test")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--arch", choices=["cnn1d", "cnn2d"], default="cnn1d")
    p.add_argument("--channels", type=lambda s: [int(c) for c in s.split(",")], default=[128, 128, 128, 128], help="comma-separated conv widths (cnn1d default; cnn2d was tried with 16,32,64,96)")
    p.add_argument("--dropout", type=float, default=0.3)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=1e-2)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--copies", type=int, default=8, help="augmented variants per utterance (plus the clean one)")
    p.add_argument("--windows-per-utt", type=int, default=2, help="training windows drawn per utterance and epoch")
    p.add_argument("--clean-fraction", type=float, default=0.5, help="share of training windows taken from the clean audio (the rest from augmented variants; negative: uniform over all variants)")
    p.add_argument("--utterance-loss", action="store_true", help="train on whole variants (all windows of an utterance copy), loss on the mean of their logits; --windows-per-utt is then variants per utterance and epoch, --batch/4 variants per step")
    p.add_argument("--cmn", action="store_true", help="subtract each mel band's mean over the window's valid frames (in the graph)")
    p.add_argument("--no-specaug", dest="specaug", action="store_false")
    p.add_argument("--freq-mask", type=int, default=0, metavar="N", help="SpecAugment frequency masks up to N bands wide (0: an eighth of the bands)")
    p.add_argument("--mels", type=int, default=128, help="mel bands of the front end (128; 64 before)")
    p.add_argument("--stft-window", type=int, default=800, help="STFT (Hann) window in samples at 16 kHz (800: 50 ms; 400 before); the hop stays 256")
    p.add_argument("--pool", choices=["meanmax", "meanstd", "meanstdmax"], default="meanmax", help="statistics pooled over time")
    p.add_argument("--mixup", type=float, default=0.0, metavar="ALPHA", help="mixup of training windows with Beta(ALPHA, ALPHA) weights (0: off)")
    p.add_argument("--ensemble", type=int, default=1, metavar="K", help="K nets trained with different seeds, their logits averaged in the one graph")
    p.add_argument("--ensemble-offset", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--surprise-prob", type=float, default=0.02, help="Surprise's fixed probability among the 7 canonical classes")
    p.add_argument("--cache", help="folder to keep the computed features in (reused by runs with the same data, seed, copies and subset)")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--threads", type=int, default=1, help="PyTorch threads")
    p.add_argument("--log-every", type=int, default=5, help="print training progress every N epochs")
    p.add_argument("--timing-repeats", type=int, default=50)
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    args = p.parse_args(argv)
    if not 0 < args.surprise_prob < 1:
        p.error("--surprise-prob must be between 0 and 1")
    if args.epochs < 1 or args.batch < 2 or args.copies < 0:
        p.error("--epochs >= 1, --batch >= 2, --copies >= 0")
    if args.ensemble < 1 or args.mels < 8 or not 64 <= args.stft_window <= 2048:
        p.error("--ensemble >= 1, --mels >= 8, --stft-window 64-2048")
    if args.no_final and not args.loso:
        p.error("--no-final goes with --loso")
    return args


def pick_subset(items, n: int, seed: int):
    """n utterances spread over speakers and labels (round robin over (speaker, label) groups)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    groups: Dict[Tuple[str, str], List[int]] = {}
    for u, i in enumerate(items):
        groups.setdefault((str(i["speaker"]), str(i["label"])), []).append(u)
    keys = sorted(groups)
    order = {k: list(rng.permutation(groups[k])) for k in keys}
    picked: List[int] = []
    while len(picked) < min(n, len(items)):
        for k in keys:
            if order[k] and len(picked) < n:
                picked.append(int(order[k].pop()))
    return [items[u] for u in sorted(picked)]


def run(args) -> Dict[str, object]:
    from export import write_json
    from keymap import file_sha256  # imports torch: after the requirements check
    import numpy as np
    import torch

    from model import AcousticModel, make_net

    torch.set_num_threads(max(1, args.threads))
    started = time.time()
    items = load_corpus(args.data)
    if args.subset:
        items = pick_subset(items, args.subset, args.seed)
    speakers = sorted({str(i["speaker"]) for i in items})
    log(f"corpus: {len(items)} utterances, {len(speakers)} speakers; computing features of {args.copies} augmented copies + the clean audio …")
    feats = None
    front_tag = "" if (args.mels, args.stft_window) == (64, 400) else f"-m{args.mels}-w{args.stft_window}"
    cache = os.path.join(args.cache, f"features-s{args.seed}-c{args.copies}-n{len(items)}-sub{args.subset}{front_tag}.pt") if args.cache else None
    if cache and os.path.isfile(cache):
        feats = Features.__new__(Features)
        state = torch.load(cache)
        if not isinstance(state, dict):
            state = vars(state)
        feats.__dict__.update(state)
        log(f"features from the cache {cache}")
    if feats is None:
        feats = Features(items, args.copies, args.seed, args.threads, args.mels, args.stft_window)
        if cache:
            os.makedirs(args.cache, exist_ok=True)
            torch.save(dict(vars(feats)), cache + f".partial-{os.getpid()}")
            os.replace(cache + f".partial-{os.getpid()}", cache)
    log(f"features: {len(feats.utt)} windows x {args.mels} bands x {feats.frames} frames ({time.time() - started:.0f} s)")
    summary: Dict[str, object] = {"id": args.id, "config": config_dict(args)}
    loso = None
    if args.loso:
        loso = run_loso(args, feats, items)
        summary["loso"] = loso
    # Reports and reference data go in a folder of their own: `cer --models DIR` reads every .json in DIR as a manifest.
    training_dir = os.path.join(args.out, f"{args.id}.training")
    os.makedirs(training_dir, exist_ok=True)
    if not args.no_final:
        log(f"final model: all {len(items)} utterances …")
        all_utts = list(range(len(items)))
        net, seconds = train_ensemble(args, feats, items, all_utts, args.seed, "final")
        full = AcousticModel(net, args.surprise_prob, args.mels, args.stft_window).eval()
        n_params = sum(p.numel() for p in net.parameters())
        # The full graph (raw 4 s windows in) must agree with the cropped-feature path used in training.
        with torch.no_grad():
            u = 0
            wins = np.stack([normalise_window(items[u]["audio"][s : s + l]) for s, l in stage_windows(items[u]["audio"])])
            full_logits = full(torch.from_numpy(wins)).numpy()
            idx = torch.from_numpy(feats.clean[u])
            crop_logits = net(feats.feats[idx].float(), feats.mask[idx]).numpy()
        from model import SURPRISE

        crop_diff = float(np.abs(np.delete(full_logits, SURPRISE, 1) - crop_logits).max())
        onnx_name = f"{args.id}.onnx"
        onnx_path = os.path.join(args.out, onnx_name)
        export_onnx(full, onnx_path, args.opset)
        sha = file_sha256(onnx_path)
        train_info = {"utterances": len(items), "speakers": len(speakers), "seconds": round(seconds, 1)}
        manifest = manifest_for(args, args.id, onnx_name, sha, n_params, train_info, loso)
        write_json(os.path.join(args.out, f"{args.id}.json"), manifest)
        ref_folder = os.path.join(training_dir, "reference")
        save_reference(full, reference_windows(items, args.seed + 7), ref_folder)
        check = check_with_node(onnx_path, ref_folder, args.timing_repeats)
        summary["final"] = {
            "model": onnx_path, "manifest": os.path.join(args.out, f"{args.id}.json"), "sha256": sha, "bytes": os.path.getsize(onnx_path),
            "parameters": n_params, "seconds": round(seconds, 1), "utterances": len(items), "speakers": len(speakers),
            "fullGraphVsTrainingPathMaxDiff": crop_diff, "check": check, "reference": ref_folder,
        }
        log(f"final: trained in {seconds:.0f} s; {n_params} parameters; {onnx_path} ({os.path.getsize(onnx_path) / 1e6:.2f} MB)")
        log(f"full graph vs training path max |diff| {crop_diff:.2e}; ONNX check: {json.dumps(check)}")
    summary["seconds"] = round(time.time() - started, 1)
    # The reports name files relative to --out (they travel with the model); stdout keeps full paths.
    report = dict(summary)
    if "final" in report:
        report["final"] = {k: (os.path.relpath(v, args.out) if k in ("model", "manifest", "reference") else v) for k, v in summary["final"].items()}
    write_json(os.path.join(training_dir, "report.json"), report)
    write_text(os.path.join(training_dir, "report.md"), report_markdown(report))
    log(f"done in {summary['seconds']:.0f} s; report {os.path.join(training_dir, 'report.md')}")
    return summary


def main(argv: Optional[List[str]] = None) -> int:
    import importlib

    missing = []
    for module, package in REQUIRED:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(package)
    if missing:
        sys.stderr.write(f"train.py: missing Debian package(s) {', '.join(missing)}: sudo apt-get install -y {' '.join(p for _, p in REQUIRED)}\n")
        return 3
    args = parse_args(argv)
    try:
        summary = run(args)
    except TrainError as err:
        sys.stderr.write(f"train.py: {err}\n")
        return 1
    if args.json:
        slim = {k: v for k, v in summary.items() if k != "loso"}
        if "loso" in summary:
            loso = summary["loso"]
            slim["loso"] = {"uar": loso["pooled"]["uar"], "accuracy": loso["pooled"]["accuracy"], "meanFoldUar": loso["meanFoldUar"], "folds": [{"speaker": f["speaker"], "uar": f["uar"], "accuracy": f["accuracy"]} for f in loso["folds"]]}
        sys.stdout.write(json.dumps(slim) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
