"""Evolve architectures with your own training loop: garay asks, you train and score, you
tell. No Ray, no Hydra. Here the loop is a plain PyTorch one on garay's synthetic words.

    python examples/ask_tell.py
"""

import torch

from garay import AskTell
from garay.data.synthetic import make_synthetic
from garay.execution.model import build_model
from garay.search import Blueprint, GenomeSpace

data = make_synthetic(examples_per_class=30, seed=0)
x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
xv, yv = torch.from_numpy(data.x_val), torch.from_numpy(data.y_val)


def score(genome, seed: int) -> float:
    """Your training: two epochs of Adam, then validation accuracy."""
    torch.manual_seed(seed)
    model = build_model(genome, data.input_shape, data.num_classes)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(2):
        for i in range(0, len(x), 64):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x[i:i + 64]), y[i:i + 64]).backward()
            opt.step()
    with torch.no_grad():
        return (model.eval()(xv).argmax(1) == yv).float().mean().item()


space = GenomeSpace(Blueprint(), input_shape=data.input_shape, num_classes=data.num_classes)
search = AskTell(space, population_size=6, generations=3, num_parents=2, seed=0)
while not search.done():
    for candidate in search.ask():
        search.tell(candidate, score(candidate.genome, candidate.seed))
print(f"best validation accuracy {search.best['fitness']:.3f}: {space.describe(search.best_genome)}")
