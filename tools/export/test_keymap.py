"""Tests of the checkpoint key mapping (keymap.py) and of the architectures against independent,
functional re-statements of the authors' models written from their checkpoint keys.

Each test builds a checkpoint the way the authors' code names its tensors (the key lists are
written out here, not taken from keymap.py), loads it through the mapping, and compares our
model's outputs with a plain functional forward pass over the checkpoint tensors.

  /usr/bin/python3 -m unittest discover -s tools/export -p 'test_*.py' -v
"""
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import unittest
from typing import Dict, List, Tuple

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

import architectures as arch  # noqa: E402
import keymap  # noqa: E402

State = Dict[str, torch.Tensor]
torch.set_num_threads(2)


def rand(shape: Tuple[int, ...], generator: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(shape, generator=generator) * scale


def add_bn(state: State, name: str, channels: int, g: torch.Generator) -> None:
    state[f"{name}.weight"] = 1.0 + 0.1 * rand((channels,), g)
    state[f"{name}.bias"] = 0.1 * rand((channels,), g)
    state[f"{name}.running_mean"] = 0.1 * rand((channels,), g)
    state[f"{name}.running_var"] = 1.0 + 0.2 * torch.rand(channels, generator=g)
    state[f"{name}.num_batches_tracked"] = torch.tensor(100)


def add_linear(state: State, name: str, out_features: int, in_features: int, g: torch.Generator, bias: bool = True) -> None:
    state[f"{name}.weight"] = rand((out_features, in_features), g, 1.0 / math.sqrt(in_features))
    if bias:
        state[f"{name}.bias"] = 0.1 * rand((out_features,), g)


def add_ln(state: State, name: str, width: int, g: torch.Generator) -> None:
    state[f"{name}.weight"] = 1.0 + 0.1 * rand((width,), g)
    state[f"{name}.bias"] = 0.1 * rand((width,), g)


# ----------------------------------------------------------------------------------------------
# The authors' VS (src/architectures/video.py: ResNet50 / Bottleneck / Conv2dSame)


def authors_vs_checkpoint(g: torch.Generator) -> State:
    s: State = {"conv_layer_s2_same.weight": rand((64, 3, 7, 7), g, 1.0 / math.sqrt(3 * 49))}
    add_bn(s, "batch_norm1", 64, g)
    channels = 64
    for layer, (blocks, planes) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512)), start=1):
        for b in range(blocks):
            p = f"layer{layer}.{b}"
            s[f"{p}.conv1.weight"] = rand((planes, channels, 1, 1), g, 1.0 / math.sqrt(channels))
            add_bn(s, f"{p}.batch_norm1", planes, g)
            s[f"{p}.conv2.weight"] = rand((planes, planes, 3, 3), g, 1.0 / math.sqrt(planes * 9))
            add_bn(s, f"{p}.batch_norm2", planes, g)
            s[f"{p}.conv3.weight"] = rand((planes * 4, planes, 1, 1), g, 0.3 / math.sqrt(planes))
            add_bn(s, f"{p}.batch_norm3", planes * 4, g)
            if b == 0:
                s[f"{p}.i_downsample.0.weight"] = rand((planes * 4, channels, 1, 1), g, 1.0 / math.sqrt(channels))
                add_bn(s, f"{p}.i_downsample.1", planes * 4, g)
            channels = planes * 4
    add_linear(s, "fc1", 512, 2048, g)
    add_linear(s, "fc2", 7, 512, g)
    return s


def bn(x: torch.Tensor, s: State, name: str, eps: float) -> torch.Tensor:
    return F.batch_norm(x, s[f"{name}.running_mean"], s[f"{name}.running_var"], s[f"{name}.weight"], s[f"{name}.bias"], False, 0.0, eps)


def authors_vs_forward(s: State, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Functional forward of the authors' ResNet50: TF-"same" 7x7/2 stem (input 224: pads 2 | 3),
    BN eps 1e-3, max-pool 3/2 unpadded, stride on conv1 of a block's first unit."""
    x = F.conv2d(F.pad(x, [2, 3, 2, 3]), s["conv_layer_s2_same.weight"], stride=2)
    x = F.max_pool2d(F.relu(bn(x, s, "batch_norm1", 1e-3)), 3, 2)
    for layer, blocks in enumerate((3, 4, 6, 3), start=1):
        for b in range(blocks):
            p = f"layer{layer}.{b}"
            stride = 2 if (b == 0 and layer > 1) else 1
            y = F.relu(bn(F.conv2d(x, s[f"{p}.conv1.weight"], stride=stride), s, f"{p}.batch_norm1", 1e-3))
            y = F.relu(bn(F.conv2d(y, s[f"{p}.conv2.weight"], padding=1), s, f"{p}.batch_norm2", 1e-3))
            y = bn(F.conv2d(y, s[f"{p}.conv3.weight"]), s, f"{p}.batch_norm3", 1e-3)
            if b == 0:
                x = bn(F.conv2d(x, s[f"{p}.i_downsample.0.weight"], stride=stride), s, f"{p}.i_downsample.1", 1e-3)
            x = F.relu(y + x)
    x = x.mean(dim=(2, 3))
    features = F.relu(F.linear(x, s["fc1.weight"], s["fc1.bias"]))
    return F.linear(features, s["fc2.weight"], s["fc2.bias"]), features


# ----------------------------------------------------------------------------------------------
# The authors' VD (LSTMPyTorch)


def authors_vd_checkpoint(g: torch.Generator) -> State:
    s: State = {}
    for name, inputs, hidden in (("lstm1", 512, 512), ("lstm2", 512, 256)):
        k = 1.0 / math.sqrt(hidden)
        s[f"{name}.weight_ih_l0"] = rand((4 * hidden, inputs), g, k)
        s[f"{name}.weight_hh_l0"] = rand((4 * hidden, hidden), g, k)
        s[f"{name}.bias_ih_l0"] = rand((4 * hidden,), g, k)
        s[f"{name}.bias_hh_l0"] = rand((4 * hidden,), g, k)
    add_linear(s, "fc", 7, 256, g)
    return s


def lstm_last(x: torch.Tensor, s: State, name: str) -> torch.Tensor:
    """Gates i, f, g, o (PyTorch's order); returns every step's hidden state."""
    hidden = s[f"{name}.weight_hh_l0"].shape[1]
    h = torch.zeros(x.shape[0], hidden)
    c = torch.zeros(x.shape[0], hidden)
    steps = []
    for t in range(x.shape[1]):
        gates = x[:, t] @ s[f"{name}.weight_ih_l0"].T + s[f"{name}.bias_ih_l0"] + h @ s[f"{name}.weight_hh_l0"].T + s[f"{name}.bias_hh_l0"]
        i, f, gg, o = gates.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
        h = torch.sigmoid(o) * torch.tanh(c)
        steps.append(h)
    return torch.stack(steps, dim=1)


def authors_vd_forward(s: State, x: torch.Tensor) -> torch.Tensor:
    y = lstm_last(lstm_last(x, s, "lstm1"), s, "lstm2")
    return F.linear(y[:, -1], s["fc.weight"], s["fc.bias"])


# ----------------------------------------------------------------------------------------------
# The authors' A: Hugging Face Wav2Vec2Model (stable layer norm) + ExprModelV3's head


CONV_LAYERS = [(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2


def authors_a_checkpoint(g: torch.Generator, layers: int, classes: int, parametrized: bool) -> State:
    s: State = {}
    channels = 1
    for i, (out, kernel, _) in enumerate(CONV_LAYERS):
        s[f"wav2vec2.feature_extractor.conv_layers.{i}.conv.weight"] = rand((out, channels, kernel), g, 1.0 / math.sqrt(channels * kernel))
        s[f"wav2vec2.feature_extractor.conv_layers.{i}.conv.bias"] = 0.1 * rand((out,), g)
        add_ln(s, f"wav2vec2.feature_extractor.conv_layers.{i}.layer_norm", out, g)
        channels = out
    add_ln(s, "wav2vec2.feature_projection.layer_norm", 512, g)
    add_linear(s, "wav2vec2.feature_projection.projection", 1024, 512, g)
    g_name, v_name = ("parametrizations.weight.original0", "parametrizations.weight.original1") if parametrized else ("weight_g", "weight_v")
    s[f"wav2vec2.encoder.pos_conv_embed.conv.{g_name}"] = 0.5 + torch.rand((1, 1, 128), generator=g)
    s[f"wav2vec2.encoder.pos_conv_embed.conv.{v_name}"] = rand((1024, 64, 128), g)
    s["wav2vec2.encoder.pos_conv_embed.conv.bias"] = 0.1 * rand((1024,), g)
    add_ln(s, "wav2vec2.encoder.layer_norm", 1024, g)
    for n in range(layers):
        p = f"wav2vec2.encoder.layers.{n}"
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            add_linear(s, f"{p}.attention.{proj}", 1024, 1024, g)
        add_ln(s, f"{p}.layer_norm", 1024, g)
        add_linear(s, f"{p}.feed_forward.intermediate_dense", 4096, 1024, g)
        add_linear(s, f"{p}.feed_forward.output_dense", 1024, 4096, g)
        add_ln(s, f"{p}.final_layer_norm", 1024, g)
    s["wav2vec2.masked_spec_embed"] = torch.rand(1024, generator=g)
    table = arch.sinusoidal_positions(5000, 1024)
    for t in ("tl1", "tl2"):
        for w in ("query_w", "keys_w", "values_w", "ff_layer_after_concat"):
            add_linear(s, f"{t}.self_attention.{w}", 1024, 1024, g, bias=False)
        add_linear(s, f"{t}.feed_forward.layer_1", 1024, 1024, g)
        add_linear(s, f"{t}.feed_forward.layer_2", 1024, 1024, g)
        add_ln(s, f"{t}.feed_forward.layer_norm", 1024, g)  # built, never used
        add_ln(s, f"{t}.add_norm_after_attention.layer_norm", 1024, g)
        add_ln(s, f"{t}.add_norm_after_ff.layer_norm", 1024, g)
        s[f"{t}.positional_encoding.pe"] = table.clone()
    s["time_downsample.0.weight"] = rand((1024, 1024, 5), g, 1.0 / math.sqrt(1024 * 5))
    s["time_downsample.0.bias"] = 0.1 * rand((1024,), g)
    add_bn(s, "time_downsample.1", 1024, g)
    s["time_downsample.4.weight"] = rand((1024, 1024, 3), g, 1.0 / math.sqrt(1024 * 3))
    s["time_downsample.4.bias"] = 0.1 * rand((1024,), g)
    add_bn(s, "time_downsample.5", 1024, g)
    add_linear(s, "feature_downsample", classes, 1024, g)
    return s


def ln(x: torch.Tensor, s: State, name: str) -> torch.Tensor:
    return F.layer_norm(x, (x.shape[-1],), s[f"{name}.weight"], s[f"{name}.bias"], 1e-5)


def lin(x: torch.Tensor, s: State, name: str) -> torch.Tensor:
    return F.linear(x, s[f"{name}.weight"], s.get(f"{name}.bias"))


def hf_wav2vec2(s: State, wave: torch.Tensor, layers: int) -> torch.Tensor:
    """Hugging Face Wav2Vec2Model with do_stable_layer_norm (the PDEM configuration)."""
    x = wave.unsqueeze(1)
    for i, (_, _, stride) in enumerate(CONV_LAYERS):
        p = f"wav2vec2.feature_extractor.conv_layers.{i}"
        x = F.conv1d(x, s[f"{p}.conv.weight"], s[f"{p}.conv.bias"], stride=stride)
        x = F.gelu(ln(x.transpose(1, 2), s, f"{p}.layer_norm").transpose(1, 2))
    x = lin(ln(x.transpose(1, 2), s, "wav2vec2.feature_projection.layer_norm"), s, "wav2vec2.feature_projection.projection")
    g = s.get("wav2vec2.encoder.pos_conv_embed.conv.weight_g", s.get("wav2vec2.encoder.pos_conv_embed.conv.parametrizations.weight.original0"))
    v = s.get("wav2vec2.encoder.pos_conv_embed.conv.weight_v", s.get("wav2vec2.encoder.pos_conv_embed.conv.parametrizations.weight.original1"))
    weight = v * (g / v.norm(dim=(0, 1), keepdim=True))  # weight norm over every dim but 2
    pos = F.conv1d(x.transpose(1, 2), weight, s["wav2vec2.encoder.pos_conv_embed.conv.bias"], padding=64, groups=16)
    x = x + F.gelu(pos[:, :, :-1]).transpose(1, 2)
    for n in range(layers):
        p = f"wav2vec2.encoder.layers.{n}"
        h = ln(x, s, f"{p}.layer_norm")
        b, t, _ = h.shape
        q = (lin(h, s, f"{p}.attention.q_proj") * 64 ** -0.5).view(b, t, 16, 64).transpose(1, 2)
        k = lin(h, s, f"{p}.attention.k_proj").view(b, t, 16, 64).transpose(1, 2)
        v_ = lin(h, s, f"{p}.attention.v_proj").view(b, t, 16, 64).transpose(1, 2)
        att = torch.softmax(q @ k.transpose(-1, -2), dim=-1) @ v_
        x = x + lin(att.transpose(1, 2).reshape(b, t, 1024), s, f"{p}.attention.out_proj")
        h = ln(x, s, f"{p}.final_layer_norm")
        x = x + lin(F.gelu(lin(h, s, f"{p}.feed_forward.intermediate_dense")), s, f"{p}.feed_forward.output_dense")
    return ln(x, s, "wav2vec2.encoder.layer_norm")


def authors_transformer_layer(s: State, t: str, x: torch.Tensor, heads: int) -> torch.Tensor:
    pe = s[f"{t}.positional_encoding.pe"][:, : x.shape[1]]
    query = key = value = x + pe
    b, n, w = x.shape
    d = w // heads
    q = lin(query, s, f"{t}.self_attention.query_w").view(b, n, heads, d).transpose(1, 2)
    k = lin(key, s, f"{t}.self_attention.keys_w").view(b, n, heads, d).transpose(1, 2)
    v = lin(value, s, f"{t}.self_attention.values_w").view(b, n, heads, d).transpose(1, 2)
    att = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d), dim=-1) @ v
    out = lin(att.transpose(1, 2).reshape(b, n, w), s, f"{t}.self_attention.ff_layer_after_concat")
    x = ln(out + query, s, f"{t}.add_norm_after_attention.layer_norm")
    ff = lin(F.relu(lin(x, s, f"{t}.feed_forward.layer_1")), s, f"{t}.feed_forward.layer_2")
    return ln(ff + x, s, f"{t}.add_norm_after_ff.layer_norm")


def authors_a_forward(s: State, wave: torch.Tensor, layers: int) -> torch.Tensor:
    centred = wave - wave.mean(dim=1, keepdim=True)
    wave = centred / torch.sqrt(centred.pow(2).mean(dim=1, keepdim=True) + 1e-7)
    x = hf_wav2vec2(s, wave, layers)
    x = authors_transformer_layer(s, "tl2", authors_transformer_layer(s, "tl1", x, 32), 16).transpose(1, 2)
    x = F.conv1d(x, s["time_downsample.0.weight"], s["time_downsample.0.bias"], stride=3, dilation=2)
    x = F.relu(F.max_pool1d(bn(x, s, "time_downsample.1", 1e-5), 5))
    x = bn(F.conv1d(x, s["time_downsample.4.weight"], s["time_downsample.4.bias"]), s, "time_downsample.5", 1e-5)
    return lin(F.relu(x.mean(dim=2)), s, "feature_downsample")


def write_safetensors(path: str, state: State) -> None:
    header: Dict[str, object] = {}
    blobs: List[bytes] = []
    offset = 0
    for name, tensor in state.items():
        data = tensor.contiguous().float().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensor.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


class VisualMappingTest(unittest.TestCase):
    def test_vs_checkpoint_loads_and_matches_the_authors_forward(self) -> None:
        g = torch.Generator().manual_seed(11)
        theirs = authors_vs_checkpoint(g)
        self.assertEqual(len(theirs), 322)  # 53 convolutions, 53 BatchNorms x 5, 2 linear x 2
        model = arch.StaticResNet50()
        used = keymap.load_into(model, keymap.vs_pairs(), theirs, [], "vs")
        self.assertEqual(sorted(used), sorted(theirs))
        self.assertEqual(len(keymap.vs_pairs()), len(model.state_dict()))
        model.eval()
        x = torch.randint(0, 256, (2, 3, 224, 224), generator=g).float() - 110.0
        with torch.no_grad():
            logits, features = model(x)
            want_logits, want_features = authors_vs_forward(theirs, x)
        self.assertLess(float((features - want_features).abs().max()), 1e-4)
        self.assertLess(float((logits - want_logits).abs().max()), 1e-4)
        self.assertGreater(float(logits.abs().max()), 1e-2)

    def test_vd_checkpoint_loads_and_matches_the_authors_forward(self) -> None:
        g = torch.Generator().manual_seed(12)
        theirs = authors_vd_checkpoint(g)
        model = arch.DynamicLstm()
        used = keymap.load_into(model, keymap.vd_pairs(), theirs, [], "vd")
        self.assertEqual(sorted(used), sorted(theirs))
        x = torch.relu(torch.randn(3, 10, 512, generator=g))
        with torch.no_grad():
            got = model.eval()(x)
        self.assertLess(float((got - authors_vd_forward(theirs, x)).abs().max()), 1e-5)

    def test_errors_name_the_key(self) -> None:
        g = torch.Generator().manual_seed(13)
        theirs = authors_vd_checkpoint(g)
        model = arch.DynamicLstm()
        missing = dict(theirs)
        del missing["lstm2.bias_hh_l0"]
        with self.assertRaisesRegex(keymap.CheckpointError, r"missing lstm2\.bias_hh_l0"):
            keymap.load_into(model, keymap.vd_pairs(), missing, [], "vd")
        wrong = dict(theirs, **{"fc.weight": torch.zeros(8, 256)})
        with self.assertRaisesRegex(keymap.CheckpointError, r"fc\.weight has shape \[8, 256\], the model needs \[7, 256\]"):
            keymap.load_into(model, keymap.vd_pairs(), wrong, [], "vd")
        extra = dict(theirs, **{"lstm3.weight_ih_l0": torch.zeros(1)})
        with self.assertRaisesRegex(keymap.CheckpointError, r"unexpected keys lstm3\.weight_ih_l0"):
            keymap.load_into(model, keymap.vd_pairs(), extra, [], "vd")

    def test_read_state_dict_forms(self) -> None:
        g = torch.Generator().manual_seed(14)
        theirs = authors_vd_checkpoint(g)
        with tempfile.TemporaryDirectory() as tmp:
            plain = os.path.join(tmp, "FER_dinamic_LSTM_Aff-Wild2.pt")
            torch.save(theirs, plain)
            self.assertEqual(sorted(keymap.read_state_dict(plain)), sorted(theirs))
            wrapped = os.path.join(tmp, "epoch_1.pth")
            torch.save({"epoch": 1, "model_state_dict": {f"module.{k}": v for k, v in theirs.items()}}, wrapped)
            self.assertEqual(sorted(keymap.read_state_dict(wrapped)), sorted(theirs))
            st = os.path.join(tmp, "model.safetensors")
            write_safetensors(st, theirs)
            loaded = keymap.read_state_dict(st)
            self.assertTrue(torch.equal(loaded["fc.weight"], theirs["fc.weight"]))


class AcousticMappingTest(unittest.TestCase):
    LAYERS = 2

    def check(self, parametrized: bool, split: bool) -> None:
        g = torch.Generator().manual_seed(21 + int(parametrized))
        theirs = authors_a_checkpoint(g, self.LAYERS, 8, parametrized)
        model = arch.AcousticModel(num_classes=8, layers=self.LAYERS)
        if split:
            # The PDEM backbone file (with its regression head) and an epoch file with the head only.
            backbone = {k: v for k, v in theirs.items() if k.startswith("wav2vec2.")}
            backbone["classifier.dense.weight"] = torch.zeros(1024, 1024)
            backbone["classifier.out_proj.weight"] = torch.zeros(3, 1024)
            head = {k: v for k, v in theirs.items() if not k.startswith("wav2vec2.")}
            keymap.load_into(model, keymap.backbone_pairs(self.LAYERS), backbone, keymap.backbone_unused(), "pdem")
            keymap.check_positions(head, "epoch")
            keymap.load_into(model, keymap.head_pairs(), head, keymap.HEAD_UNUSED, "epoch")
        else:
            keymap.check_positions(theirs, "epoch")
            used = keymap.load_into(model, keymap.head_pairs(), theirs, keymap.HEAD_UNUSED, "epoch", ignore_prefixes=("wav2vec2.",))
            used += keymap.load_into(
                model, keymap.backbone_pairs(self.LAYERS), theirs,
                keymap.backbone_unused() + keymap.HEAD_UNUSED + [r"(tl[12]|time_downsample|feature_downsample)\..*"], "epoch",
            )
            unused = sorted(set(theirs) - set(used))
            self.assertEqual(unused, sorted([
                "wav2vec2.masked_spec_embed", "tl1.positional_encoding.pe", "tl2.positional_encoding.pe",
                "tl1.feed_forward.layer_norm.weight", "tl1.feed_forward.layer_norm.bias",
                "tl2.feed_forward.layer_norm.weight", "tl2.feed_forward.layer_norm.bias",
            ]))
        model.eval()
        model.bake_weight_norm()
        # 1.25 s windows (62 frames, the fewest the time reduction takes) keep Debian's
        # generic-BLAS PyTorch fast enough; the 4 s windows are covered by the ONNX parity test.
        samples = 20000
        t = torch.arange(samples) / 16000.0
        wave = torch.stack([0.3 * torch.sin(2 * math.pi * 220 * t) + 0.05 * torch.randn(samples, generator=g), 0.1 * torch.randn(samples, generator=g)])
        with torch.no_grad():
            got = model(wave)
            want = authors_a_forward(theirs, wave, self.LAYERS)
        self.assertEqual(tuple(got.shape), (2, 8))
        self.assertGreater(float(want.abs().max()), 1e-2)
        self.assertLess(float((got - want).abs().max()), 2e-4, f"{got} vs {want}")

    def test_epoch_checkpoint_with_backbone_matches_hugging_face_order(self) -> None:
        self.check(parametrized=False, split=False)

    def test_pdem_backbone_plus_head_with_parametrized_weight_norm(self) -> None:
        self.check(parametrized=True, split=True)

    def test_backbone_ends_with_the_final_layer_norm(self) -> None:
        """Hugging Face applies the encoder's LayerNorm after the layers (torchaudio 0.13's forward
        applies it before them): with a unit LayerNorm every output frame is standardised."""
        torch.manual_seed(5)
        model = arch.build_w2v2(2).eval()
        with torch.no_grad():
            hidden = arch.w2v2_hidden_states(model, torch.randn(1, 16000))
        self.assertLess(float(hidden.mean(dim=-1).abs().max()), 1e-4)
        self.assertLess(float((hidden.std(dim=-1, unbiased=False) - 1).abs().max()), 1e-3)

    def test_wrong_positions_are_rejected(self) -> None:
        state = {"tl1.positional_encoding.pe": arch.sinusoidal_positions(50, 1024) + 0.01}
        with self.assertRaisesRegex(keymap.CheckpointError, "differs from the sinusoidal table"):
            keymap.check_positions(state, "epoch")


class ExportCliTest(unittest.TestCase):
    def test_export_from_authors_style_checkpoint_files(self) -> None:
        g = torch.Generator().manual_seed(31)
        with tempfile.TemporaryDirectory() as tmp:
            weights = os.path.join(tmp, "FER_dinamic_LSTM_Aff-Wild2.pt")
            torch.save(authors_vd_checkpoint(g), weights)
            out = os.path.join(tmp, "out")
            r = subprocess.run([sys.executable, os.path.join(HERE, "export.py"), "vd", "--weights", weights, "--out", out, "--json"], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            summary = json.loads(r.stdout)
            with open(summary["models"][0]["manifest"], encoding="utf-8") as f:
                manifest = json.load(f)
            self.assertEqual(manifest["id"], "vd-lstm-affwild2")
            self.assertTrue(manifest["nonCommercial"])
            self.assertIn("non-commercial", manifest["licence"])
            self.assertEqual(manifest["extra"]["export"]["weights"]["weights"]["file"], "FER_dinamic_LSTM_Aff-Wild2.pt")
            self.assertEqual(manifest["sha256"], keymap.file_sha256(os.path.join(out, manifest["file"])))
            # A checkpoint of another model is refused with a one-line reason.
            other = os.path.join(tmp, "other.pt")
            torch.save({"fc.weight": torch.zeros(7, 256)}, other)
            r = subprocess.run([sys.executable, os.path.join(HERE, "export.py"), "vd", "--weights", other, "--out", out], capture_output=True, text=True)
            self.assertEqual(r.returncode, 1)
            self.assertIn("export.py: other.pt: missing lstm1.weight_ih_l0", r.stderr)


if __name__ == "__main__":
    unittest.main()
