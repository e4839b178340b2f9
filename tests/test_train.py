import math

from garay.data.synthetic import make_synthetic
from garay.search.genome import ConvGene, DenseGene, Genome
from garay.execution.evaluation import TrainSettings, evaluation_seed
from garay.execution.train import train_and_score

DATA = make_synthetic(seed=0, examples_per_class=40)
CNN = Genome((ConvGene(16, 5, 1, 1, 2, "relu"), DenseGene(32, "relu", 0.1)))


def test_training_learns_above_chance_and_is_reproducible():
    settings = TrainSettings(epochs=4, batch_size=16)
    a = train_and_score(CNN, DATA, settings, "cpu", seed=7)
    b = train_and_score(CNN, DATA, settings, "cpu", seed=7)
    assert a.status == "ok" and a.error is None
    assert a.fitness == a.val_accuracy > 0.2  # chance is 0.1
    assert 0 <= a.test_accuracy <= 1 and a.epochs == 4 and a.params > 0
    assert (a.val_accuracy, a.test_accuracy) == (b.val_accuracy, b.test_accuracy)


def test_noise_changes_training():
    quiet = train_and_score(CNN, DATA, TrainSettings(epochs=2, noise_level=0.0), "cpu", seed=1)
    loud = train_and_score(CNN, DATA, TrainSettings(epochs=2, noise_level=2.0), "cpu", seed=1)
    assert quiet.val_accuracy != loud.val_accuracy


def test_non_finite_loss_is_diverged_with_fitness_zero():
    ev = train_and_score(CNN, DATA, TrainSettings(epochs=2, lr=math.inf), "cpu", seed=0)
    assert ev.status == "diverged" and ev.fitness == 0.0 and "non-finite" in ev.error


def test_exception_is_failed_with_its_message():
    bad = Genome((DenseGene(8, "not_an_activation", 0.1),))
    ev = train_and_score(bad, DATA, TrainSettings(epochs=1), "cpu", seed=0)
    assert ev.status == "failed" and ev.fitness == 0.0 and "not_an_activation" in ev.error


def test_timeout_stops_an_evaluation():
    ev = train_and_score(CNN, DATA, TrainSettings(epochs=50, timeout_s=1e-6), "cpu", seed=0)
    assert ev.status == "timeout" and ev.epochs == 1


def test_evaluation_seed_depends_on_all_three_parts():
    s = evaluation_seed(0, "abc", 1)
    assert s == evaluation_seed(0, "abc", 1)
    assert len({s, evaluation_seed(1, "abc", 1), evaluation_seed(0, "abd", 1), evaluation_seed(0, "abc", 2)}) == 4
    assert 0 <= s < 2**63
