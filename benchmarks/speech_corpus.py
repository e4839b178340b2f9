"""Write a corpus in Google Speech Commands' layout: `ROOT/{word}/{speaker}_nohash_{n}.wav`
(16 kHz, 16-bit mono, one second), `validation_list.txt` and `testing_list.txt` made with
the corpus's own hash rule (10% / 10% of speakers), and a `_background_noise_` folder.

    python benchmarks/speech_corpus.py ROOT [--files 20000] [--engine espeak] [--jobs 2]

- `--engine espeak` (real speech): espeak-ng speaks each word once per speaker; a speaker
  is an English voice and a voice variant (espeak-ng's 70-odd), a pitch and a speed. Each
  take of a word is that utterance at a slightly different speed and loudness, at a random
  place in the second, over noise at a random SNR (numpy and soxr). Needs espeak-ng
  (`apt-get install espeak-ng`).
- `--engine synthetic`: garay's built-in synthetic words, for tests (no packages needed).

The audio is written, never committed. Deterministic for `--seed`.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import subprocess
import wave
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

# Speech Commands v0.02's 35 words.
WORDS = ("backward bed bird cat dog down eight five follow forward four go happy house learn left marvin nine no "
         "off on one right seven sheila six stop three tree two up visual wow yes zero").split()
RATE = 16000
VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029",
          "en-us-nyc")
# espeak-ng variants that sound like people (not robots, whispers or test voices).
SKIP_VARIANTS = ("robot", "robosoft", "half-life", "fast_test", "whisper", "demonic", "tweaky", "kaukovalta")


@dataclass(frozen=True)
class Speaker:
    voice: str
    variant: str
    pitch: int
    speed: int

    @property
    def id(self) -> str:
        """Eight hex digits, as Speech Commands' speaker ids."""
        return hashlib.sha1(f"{self.voice}+{self.variant}/{self.pitch}/{self.speed}".encode()).hexdigest()[:8]


def variants() -> list[str]:
    """espeak-ng's voice variants (file names under !v/), people-like ones only."""
    out = subprocess.run(["espeak-ng", "--voices=variant"], check=True, capture_output=True, text=True).stdout
    names = [line.split()[4].split("/", 1)[1] for line in out.splitlines()[1:] if len(line.split()) >= 5]
    return sorted(n for n in names if not any(s in n.lower() for s in SKIP_VARIANTS))


def speakers(n: int, rng: np.random.Generator) -> list[Speaker]:
    """`n` distinct speakers: voice, variant, pitch (0-99) and speed (words per minute)."""
    kinds = variants()
    found: dict[str, Speaker] = {}
    while len(found) < n:
        s = Speaker(str(rng.choice(VOICES)), str(rng.choice(kinds)), int(rng.integers(15, 85)),
                    int(rng.integers(125, 210)))
        found.setdefault(s.id, s)
    return list(found.values())


def speak(word: str, speaker: Speaker) -> np.ndarray:
    """espeak-ng's utterance of `word` as float32 samples at 16 kHz."""
    import soxr

    raw = subprocess.run(["espeak-ng", "-v", f"{speaker.voice}+{speaker.variant}", "-p", str(speaker.pitch),
                          "-s", str(speaker.speed), "--stdout", word], check=True, capture_output=True).stdout
    # --stdout writes a streaming WAV header (unknown length): take the samples after "data".
    at = raw.index(b"data") + 8
    rate = int.from_bytes(raw[24:28], "little")
    samples = np.frombuffer(raw[at:at + (len(raw) - at) // 2 * 2], dtype="<i2").astype(np.float32) / 32768
    return soxr.resample(samples, rate, RATE).astype(np.float32)


def take(utterance: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One second: the utterance a little faster or slower and louder or softer, at a random
    place, over white noise 5-30 dB below it."""
    import soxr

    speed = rng.uniform(0.9, 1.1)
    voiced = soxr.resample(utterance, RATE, RATE / speed).astype(np.float32)[:RATE]
    voiced *= rng.uniform(0.3, 1.0) / (np.abs(voiced).max() + 1e-9)
    out = np.zeros(RATE, dtype=np.float32)
    start = int(rng.integers(0, RATE - len(voiced) + 1))
    out[start:start + len(voiced)] = voiced
    power = float(np.mean(voiced**2)) + 1e-12
    out += rng.normal(0, np.sqrt(power / 10 ** (rng.uniform(5, 30) / 10)), RATE).astype(np.float32)
    return np.clip(out, -1, 1)


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> None:
    """16-bit mono PCM, as Speech Commands' files."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    path.write_bytes(buf.getvalue())


def _espeak_job(job: tuple[str, str, Speaker, int, int]) -> int:
    root, word, speaker, takes, seed = job
    rng = np.random.default_rng([seed, int(speaker.id, 16), WORDS.index(word) if word in WORDS else len(word)])
    utterance = speak(word, speaker)
    folder = Path(root) / word
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(takes):
        write_wav(folder / f"{speaker.id}_nohash_{n}.wav", take(utterance, rng))
    return takes


def write_lists(root: Path, val_fraction: float = 0.1, test_fraction: float = 0.1) -> dict[str, int]:
    """validation_list.txt and testing_list.txt by Speech Commands' hash rule; counts."""
    from garay.data.splits import hash_side

    lists: tuple[list[str], list[str], list[str]] = ([], [], [])
    for path in sorted(root.glob("*/*_nohash_*.wav")):
        if path.parent.name.startswith("_"):
            continue
        lists[hash_side(path.name, val_fraction, test_fraction)].append(path.relative_to(root).as_posix())
    (root / "validation_list.txt").write_text("".join(f"{p}\n" for p in lists[1]))
    (root / "testing_list.txt").write_text("".join(f"{p}\n" for p in lists[2]))
    return {"train": len(lists[0]), "validation": len(lists[1]), "testing": len(lists[2])}


def write_background(root: Path, rng: np.random.Generator) -> None:
    """Two ten-second noises, as the real corpus has under _background_noise_ (not a class)."""
    folder = root / "_background_noise_"
    folder.mkdir(parents=True, exist_ok=True)
    white = rng.normal(0, 0.1, 10 * RATE)
    write_wav(folder / "white_noise.wav", white)
    brown = np.cumsum(white)
    write_wav(folder / "brown_noise.wav", 0.5 * (brown - brown.mean()) / (np.abs(brown - brown.mean()).max() + 1e-9))


def espeak_corpus(root: Path, files: int, words: Sequence[str], takes: int, seed: int, jobs: int) -> int:
    """About `files` files: len(words) x speakers x `takes`."""
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng is not installed (apt-get install espeak-ng), or use --engine synthetic")
    rng = np.random.default_rng(seed)
    people = speakers(max(1, round(files / (len(words) * takes))), rng)
    work = [(str(root), w, s, takes, seed) for s in people for w in words]
    with ProcessPoolExecutor(jobs) as pool:
        return sum(pool.map(_espeak_job, work, chunksize=16))


def synthetic_corpus(root: Path, files: int, words: int, speakers_count: int, seed: int) -> int:
    """About `files` WAVs of garay's synthetic words (8 kHz), `speakers_count` speaker ids
    spread over every word; for tests."""
    from garay.data.synthetic import synthesize

    rng = np.random.default_rng(seed)
    per_word = max(1, files // words)
    labels = np.repeat(np.arange(words), per_word)
    waves = synthesize(labels, sample_rate=8000, duration=0.5, snr_db=(0.0, 10.0), rng=rng)
    ids = [hashlib.sha1(f"{seed}/{k}".encode()).hexdigest()[:8] for k in range(speakers_count)]
    for i, (label, w) in enumerate(zip(labels, waves)):
        folder = root / f"word{label}"
        folder.mkdir(parents=True, exist_ok=True)
        n = i % per_word
        write_wav(folder / f"{ids[n % speakers_count]}_nohash_{n // speakers_count}.wav", w, rate=8000)
    return len(labels)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--engine", choices=("espeak", "synthetic"), default="espeak")
    ap.add_argument("--words", type=int, default=len(WORDS), help="how many of Speech Commands' 35 words")
    ap.add_argument("--takes", type=int, default=2, help="files per speaker and word (espeak)")
    ap.add_argument("--speakers", type=int, default=40, help="speaker ids (synthetic)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    args.root.mkdir(parents=True, exist_ok=True)
    if args.engine == "espeak":
        n = espeak_corpus(args.root, args.files, WORDS[: args.words], args.takes, args.seed, args.jobs)
    else:
        n = synthetic_corpus(args.root, args.files, min(args.words, 10), args.speakers, args.seed)
    write_background(args.root, np.random.default_rng(args.seed))
    counts = write_lists(args.root)
    print(f"{n} files under {args.root}; Speech Commands' lists by speaker hash: {counts}")


if __name__ == "__main__":
    main()
