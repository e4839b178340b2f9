"""train.augment and data.normalize: each does to a batch what it says, is off by default,
and is deterministic for a seed on a CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from garay.data.dataset import normalise_utterances
from garay.data.synthetic import make_synthetic
from garay.errors import ConfigError
from garay.execution.augment import augment, mask, shift_time, warp_channels
from garay.execution.evaluation import Augmentation, TrainSettings
from garay.execution.train import train_model
from garay.search.genome import ConvGene, DenseGene, Genome

DATA = make_synthetic(seed=0, examples_per_class=30)
CNN = Genome((ConvGene(16, 5, 1, 1, 2, "relu"), DenseGene(32, "relu", 0.1)))
EVERY = Augmentation(time_masks=2, time_width=6, freq_masks=2, freq_width=4, shift=0.2, warp=0.15, mixup=0.3)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_off_by_default_and_never_called(make_cfg, monkeypatch):
    settings = TrainSettings.from_config(make_cfg())
    assert settings.augment == Augmentation() and not settings.augment.active
    assert make_cfg().data.normalize == "dataset"

    def boom(*args, **kwargs):
        raise AssertionError("augment() ran with every augmentation off")

    monkeypatch.setattr("garay.execution.train.augment", boom)
    ev, _, _ = train_model(CNN, DATA, TrainSettings(epochs=1), "cpu", seed=0)
    assert ev.status == "ok", ev.error


def test_time_masks_blank_whole_frames_within_their_width():
    x = torch.ones(256, 8, 40)
    out = mask(x, 2, 2, 6, gen())
    blank = out == 0
    per_frame = blank.any(dim=1)
    assert torch.equal(blank, per_frame.unsqueeze(1).expand_as(blank))  # every channel of a masked frame
    widths = per_frame.sum(dim=1)
    assert widths.max() <= 2 * 6 and widths.sum() > 0 and (widths == 0).sum() < 256
    assert torch.equal(out[~blank], x[~blank])


def test_frequency_masks_blank_whole_channels_within_their_width():
    x = torch.randn(256, 32, 20, generator=gen(3)) + 5
    out = mask(x, 1, 1, 4, gen())
    blank = out == 0
    per_channel = blank.any(dim=2)
    assert torch.equal(blank, per_channel.unsqueeze(2).expand_as(blank))
    widths = per_channel.sum(dim=1)
    assert widths.max() <= 4 and widths.sum() > 0
    # a mask is one contiguous stretch of channels
    for row in per_channel[widths > 0]:
        idx = torch.nonzero(row).flatten()
        assert int(idx[-1] - idx[0]) + 1 == len(idx)


def test_shift_moves_each_example_by_whole_frames_zero_filled():
    t = 50
    x = (torch.arange(t, dtype=torch.float32) + 1).expand(128, 3, t).contiguous()
    out = shift_time(x, 0.1, gen())
    seen = set()
    for row in out[:, 0]:
        nz = torch.nonzero(row).flatten()
        s = int(row[nz[0]] - 1) - int(nz[0])  # the frame a value came from, less where it is now
        seen.add(-s)
        assert abs(s) <= 5
        assert torch.equal(row[nz], (torch.arange(t, dtype=torch.float32) + 1)[nz + s])
        assert (row == 0).sum() == abs(s)
    assert len(seen) > 5  # shifts vary between examples
    assert torch.equal(out[:, 0], out[:, 2])  # every channel of an example moves together


def test_warp_stretches_the_mel_axis_within_its_range():
    c = 32
    x = torch.arange(c, dtype=torch.float32).view(1, c, 1).expand(200, c, 4).contiguous()
    out = warp_channels(x, 0.2, gen())
    # band k takes the energy at k / alpha: inside the edges a line through 0 of slope 1/alpha
    slopes = out[:, 10, 0] / 10
    assert torch.all(slopes >= 1 / 1.2 - 1e-5) and torch.all(slopes <= 1 / 0.8 + 1e-5)
    assert slopes.std() > 0.02
    assert torch.allclose(out[:, 20, 0], 20 * slopes, atol=1e-3)  # 20 / alpha stays inside the axis
    # unstandardised first: a flat raw spectrum stays flat whatever the per-band statistics
    mean, std = torch.linspace(-5, 5, c).view(1, c, 1), torch.linspace(1, 3, c).view(1, c, 1)
    flat = (torch.full((20, c, 4), 7.0) - mean) / std
    assert torch.allclose(warp_channels(flat, 0.2, gen(), mean=mean, std=std), flat, atol=1e-5)


def test_mixup_mixes_inputs_and_labels_alike():
    x = torch.randn(64, 4, 10, generator=gen(1))
    y = torch.randint(0, 10, (64,), generator=gen(2))
    torch.manual_seed(0)
    out, mix = augment(x, Augmentation(mixup=0.4), gen())
    assert mix is not None and 0 <= mix.lam <= 1 and sorted(mix.perm.tolist()) == list(range(64))
    assert torch.allclose(out, mix.lam * x + (1 - mix.lam) * x[mix.perm])
    logits = torch.randn(64, 10, generator=gen(4))
    ce = torch.nn.CrossEntropyLoss()
    assert torch.isclose(mix.loss(ce, logits, y), mix.lam * ce(logits, y) + (1 - mix.lam) * ce(logits, y[mix.perm]))


def test_every_augmentation_is_deterministic_for_a_seed_and_changes_training():
    x = torch.randn(32, 16, 30, generator=gen(5))

    def once():
        torch.manual_seed(9)
        out, mix = augment(x, EVERY, gen(3))
        return out, mix.lam, mix.perm

    a, b = once(), once()
    assert torch.equal(a[0], b[0]) and a[1] == b[1] and torch.equal(a[2], b[2])
    settings = TrainSettings(epochs=2, augment=EVERY)
    one, two = (train_model(CNN, DATA, settings, "cpu", seed=4)[0] for _ in range(2))
    plain = train_model(CNN, DATA, TrainSettings(epochs=2), "cpu", seed=4)[0]
    assert one.status == "ok" and one.curve == two.curve and one.losses == two.losses
    assert one.losses != plain.losses


def test_a_paused_augmented_training_continues_as_if_never_paused():
    # Early stopping's rungs: the generator states saved at a pause include mixup's draws.
    settings = TrainSettings(epochs=3, augment=EVERY)
    straight = train_model(CNN, DATA, settings, "cpu", seed=6)[0]
    _, _, state = train_model(CNN, DATA, settings, "cpu", seed=6, until=1)
    torch.manual_seed(12345)  # whatever ran in between
    resumed = train_model(CNN, DATA, settings, "cpu", seed=6, state=state)[0]
    assert resumed.curve == straight.curve and resumed.losses == straight.losses


def test_utterance_normalisation_is_per_example_and_ignores_loudness():
    rng = np.random.default_rng(0)
    x = rng.normal(3, 2, (10, 5, 40)).astype(np.float32) * np.arange(1, 6, dtype=np.float32).reshape(1, 5, 1)
    out = normalise_utterances(x.copy())
    assert np.allclose(out.mean(axis=2), 0, atol=1e-5) and np.allclose(out.std(axis=2), 1, atol=1e-4)
    assert np.allclose(normalise_utterances(x[:3].copy()), out[:3])  # an example's own statistics only
    # A log-mel example 10 dB louder (a constant added in every band) normalises the same
    assert np.allclose(normalise_utterances(x + 10), out, atol=1e-4)
    data = make_synthetic(seed=0, examples_per_class=30, normalize="utterance")
    assert data.info["normalize"] == "utterance"
    assert np.abs(data.mean).max() < 1e-3 and np.abs(data.std - 1).max() < 1e-3  # dataset step is ~identity now
    assert not np.allclose(data.x_train, DATA.x_train, atol=1e-2)


def test_utterance_normalisation_reaches_the_model_package(tmp_path):
    from garay.data.features import FeatureSettings
    from garay.serve.preprocess import Preprocess

    settings = FeatureSettings(kind="logmel", sample_rate=8000, duration=0.5, n_mels=32, n_mfcc=20, n_fft=256,
                               hop_length=128)
    pre = Preprocess(input_shape=(32, 32), mean=(0.0,) * 32, std=(1.0,) * 32, features=settings, normalize="utterance")
    pre.save(tmp_path / "preprocess.json")
    again = Preprocess.load(tmp_path / "preprocess.json")
    assert again == pre
    waves = np.random.default_rng(1).normal(0, 0.1, (4, 4000)).astype(np.float32)
    quiet, loud = again.features_of(waves), again.features_of(3 * waves)
    assert np.allclose(quiet, loud, atol=1e-3)  # loudness is gone, as in training
    plain = Preprocess(input_shape=(32, 32), mean=(0.0,) * 32, std=(1.0,) * 32, features=settings)
    assert not np.allclose(plain.features_of(waves), plain.features_of(3 * waves), atol=1)


@pytest.mark.parametrize("overrides, key", [
    (["train.augment.warp=0.1", "data.features=mfcc"], "train.augment.warp"),
    (["train.augment.warp=1.5"], "train.augment.warp"),
    (["train.augment.shift=1.0"], "train.augment.shift"),
    (["train.augment.time_masks=-1"], "train.augment.time_masks"),
    (["train.augment.mixup=-0.1"], "train.augment.mixup"),
    (["train.augment.freq_masks=2", "data.features=waveform"], "train.augment.freq_masks"),
    (["data.normalize=speaker"], "data.normalize"),
])
def test_bad_settings_are_refused_naming_the_key(make_cfg, overrides, key):
    from garay.config.validate import validate

    with pytest.raises(ConfigError) as err:
        validate(make_cfg(*overrides))
    assert err.value.key == key and key in str(err.value)

