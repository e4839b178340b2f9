import pickle

import pytest

from garay.search.genome import ConvGene, DenseGene, Genome

CONV = ConvGene(32, 5, 1, 1, 2, "relu")
DENSE = DenseGene(64, "swish", 0.2)


def test_json_round_trip_and_hash_are_stable():
    g = Genome((CONV, CONV, DENSE))
    again = Genome.from_json(g.to_json())
    assert again == g
    assert again.hash == g.hash
    assert len(g.hash) == 16
    assert Genome((CONV, DENSE)).hash != g.hash


def test_genome_pickles_for_actors():
    g = Genome((CONV, DENSE))
    assert pickle.loads(pickle.dumps(g)) == g


def test_convs_must_precede_denses():
    with pytest.raises(ValueError, match="before dense"):
        Genome((DENSE, CONV))
    with pytest.raises(ValueError):
        Genome(())


def test_from_dict_rejects_bad_genes():
    with pytest.raises(ValueError, match="kind"):
        Genome.from_dict({"genes": [{"kind": "lstm"}]})
    with pytest.raises(ValueError, match="keys"):
        Genome.from_dict({"genes": [{"kind": "dense", "neurons": 8}]})


def test_frozen():
    with pytest.raises(AttributeError):
        CONV.filters = 8  # type: ignore[misc]
