import numpy as np
import pytest
import torch

from garay.search.blueprint import Blueprint, sample_genome
from garay.search.genome import ConvGene, DenseGene, Genome
from garay.execution.model import build_model, count_parameters
from garay.search.shapes import InvalidGenome, infer_shapes, is_valid, param_count


@pytest.mark.parametrize("conv_dim", [1, 2])
def test_inferred_shapes_and_params_match_torch(conv_dim):
    rng = np.random.default_rng(0)
    shape = (32, 32)
    checked = 0
    while checked < 25:
        g = sample_genome(Blueprint(), 0.8, rng)
        if not is_valid(g, shape, 10, conv_dim):
            with pytest.raises(InvalidGenome):
                build_model(g, shape, 10, conv_dim)
            continue
        model = build_model(g, shape, 10, conv_dim)
        out = model(torch.zeros(3, *shape))
        assert out.shape == (3, 10)
        assert count_parameters(model) == param_count(g, shape, 10, conv_dim)
        checked += 1


def test_too_deep_for_the_input_is_invalid():
    deep = Genome(tuple(ConvGene(8, 7, 2, 0, 3, "relu") for _ in range(4)))
    with pytest.raises(InvalidGenome, match="conv layer"):
        infer_shapes(deep, (32, 32), 10)
    assert is_valid(Genome((DenseGene(8, "relu", 0.1),)), (32, 32), 10)


def test_layers_follow_the_genome():
    g = Genome((ConvGene(16, 3, 1, 1, 2, "leaky_relu"), DenseGene(32, "swish", 0.25)))
    model = build_model(g, (32, 32), 10)
    kinds = [type(m).__name__ for m in model.body]
    assert kinds == ["Conv1d", "LeakyReLU", "MaxPool1d", "Flatten", "Linear", "SiLU", "Dropout", "Linear"]
