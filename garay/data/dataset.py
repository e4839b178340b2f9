"""The in-memory dataset every loader produces: features as float32 arrays, split three ways."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import numpy as np


@dataclass(frozen=True)
class Dataset:
    """Features shaped (examples, channels, time) with integer labels.

    Holds numpy arrays so it pickles cheaply into Ray's object store (zero-copy reads).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]
    name: str = "dataset"
    info: dict = field(default_factory=dict)
    # Further validation rounds (fitness.rounds > 1): the same data split other ways, each
    # standardised with its own training statistics. This dataset is round one.
    rounds: tuple["Dataset", ...] = ()
    # The standardisation every split went through, (x - mean) / std per channel, with the
    # training part's statistics (std includes its 1e-6), shaped (1, channels, 1): what a
    # model package's preprocess.json records (garay.serve).
    mean: np.ndarray | None = None
    std: np.ndarray | None = None

    @property
    def input_shape(self) -> tuple[int, int]:
        return tuple(int(n) for n in self.x_train.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.y_train), "val": len(self.y_val), "test": len(self.y_test)}

    def nbytes(self) -> int:
        """Bytes of every split's features, validation rounds included (what the object store holds)."""
        own = sum(a.nbytes for a in (self.x_train, self.x_val, self.x_test, self.y_train, self.y_val, self.y_test))
        return own + sum(r.nbytes() for r in self.rounds)


def split_dataset(
    x: np.ndarray, y: np.ndarray, parts: Sequence[tuple[np.ndarray, ...]], classes: tuple[str, ...], *, name: str,
    info: dict, normalize: str = "dataset",
) -> Dataset:
    """Features `x` and labels `y` cut into (train, val, test) indices, standardised with
    training statistics: `parts[0]` is the split, any further ones the extra validation
    rounds. With `normalize="utterance"` each example is first standardised by itself
    (normalise_utterances). Raises ConfigError (data.split) when a part is empty.

    `x` is consumed: when the first split uses every example once, its three parts are
    views of `x` itself, reordered in place, so the driver never holds a second copy of
    the features (each further validation round is a copy of its own)."""
    from garay.data.splits import check_split

    for p in parts:
        check_split(p, str(info.get("split", "?")))
    x = np.ascontiguousarray(x, dtype=np.float32)  # a copy only if it is not float32 already
    if normalize == "utterance":
        normalise_utterances(x)
        info = {**info, "normalize": normalize}
    # Further rounds first: they read x before the first split reorders it.
    rounds = tuple(_cut(x[np.concatenate(p)], y, p, classes, name, info) for p in parts[1:])
    order = np.concatenate(parts[0])
    if len(order) == len(x) and np.array_equal(np.sort(order), np.arange(len(x))):
        permute_rows(x, order)
    else:  # some examples are in no part (or in two): gather them
        x = x[order]
    first = _cut(x, y, parts[0], classes, name, info)
    return replace(first, rounds=rounds) if rounds else first


def _cut(x: np.ndarray, y: np.ndarray, part: tuple[np.ndarray, ...], classes: tuple[str, ...], name: str,
         info: dict) -> Dataset:
    """A Dataset of `x`, which holds the examples of `part` (train, val, test) in that
    order, standardised in place with the training part's statistics."""
    train, val, test = part
    ends = np.cumsum([len(train), len(val), len(test)])
    x_train, x_val, x_test = x[: ends[0]], x[ends[0]: ends[1]], x[ends[1]: ends[2]]
    mean, std = channel_statistics(x_train)
    std += np.float32(1e-6)
    for block in _blocks(x):
        block -= mean
        block /= std
    return Dataset(x_train=x_train, y_train=y[train], x_val=x_val, y_val=y[val], x_test=x_test, y_test=y[test],
                   classes=classes, name=name, info=info, mean=mean, std=std)


def normalise_utterances(x: np.ndarray) -> np.ndarray:
    """Cepstral mean and variance normalisation, per utterance, in place: each example's
    every channel less its mean over time, over its standard deviation over time (+ 1e-6,
    so a constant channel becomes 0), in float32. Returns `x`."""
    for block in _blocks(x):
        block -= block.mean(axis=2, keepdims=True)
        scale = np.sqrt(np.square(block).mean(axis=2, keepdims=True))
        scale += np.float32(1e-6)
        block /= scale
    return x


def permute_rows(x: np.ndarray, order: np.ndarray) -> None:
    """`x[:] = x[order]` in place, with one row of scratch memory (`order` a permutation):
    each cycle of the permutation is followed once."""
    source = order.tolist()
    done = bytearray(len(source))
    for start in range(len(source)):
        if done[start] or source[start] == start:
            continue
        held = x[start].copy()
        k = start
        while True:
            done[k] = 1
            nxt = source[k]
            if nxt == start:
                x[k] = held
                break
            x[k] = x[nxt]
            k = nxt


def _blocks(x: np.ndarray, rows: int = 1024) -> list[np.ndarray]:
    return [x[i: i + rows] for i in range(0, len(x), rows)]


def channel_statistics(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of `x` (examples, channels, time), shaped
    (1, channels, 1): bit for bit `x.mean(axis=(0, 2))` and `x.std(axis=(0, 2))`, but
    computed in blocks of examples, without numpy's full-size temporary. numpy sums each
    (example, channel) row pairwise, then adds the rows into the total one after another;
    so do these (a cumulative sum adds in sequence)."""
    n, channels, frames = x.shape
    count = np.intp(n * frames)

    def total(rows_of: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        acc = np.zeros((1, channels), dtype=np.float32)
        for block in _blocks(x):
            acc = np.cumsum(np.concatenate([acc, np.add.reduce(rows_of(block), axis=2)]), axis=0,
                            dtype=np.float32)[-1:]
        # numpy divides a float32 sum by an integer count the same way
        return np.true_divide(acc, count, out=acc, casting="unsafe").reshape(1, channels, 1)

    mean = total(lambda block: block)

    def squared_deviations(block: np.ndarray) -> np.ndarray:
        d = np.subtract(block, mean)
        return np.square(d, out=d)

    return mean, np.sqrt(total(squared_deviations))
