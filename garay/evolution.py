"""The driver: the study's generational genetic algorithm over evaluators, with a
checkpoint after every generation."""

from __future__ import annotations

import logging
import math
import statistics
import time
from dataclasses import replace
from typing import Any, Callable

import numpy as np

from garay.blueprint import Blueprint, sample_genome
from garay.config import ConfigError, GAConfig
from garay.evaluation import evaluation_seed
from garay.fidelity import Rungs, halving_survivors, median_survivors, record_rank, standing
from garay.fitting import Room, repair, sample_fitting_genome
from garay.genome import Genome
from garay.operators import Individual, crossover, mutate, select, select_pareto
from garay.pareto import non_dominated_sort
from garay.progress import progress_bar
from garay.report import new_genome_stats
from garay.runlog import BEST, CHECKPOINT, PARETO, RUNGS, RunLog
from garay.shapes import is_valid, param_count
from garay.workers import Evaluator, Result, Task, evaluate_all

log = logging.getLogger(__name__)


GASettings = GAConfig  # the `ga` group's dataclass is the driver's settings: one set of defaults


class BreedingError(ConfigError):
    """No genome that fits the input was found within ga.max_redraws draws: the blueprint
    does not suit the input shape (the CLI reports it in one line, exit status 2)."""

    def __init__(self, message: str):
        super().__init__("blueprint", message)


def check_feasible(blueprint: Blueprint, conv_chance: float, input_shape: tuple[int, int], num_classes: int,
                   conv_dim: int, tries: int, seed: int = 0, fit: str = "repair") -> None:
    """Raise BreedingError when the blueprint cannot suit the input, before any worker
    starts: with ga.fit=repair, when conv genes are asked for and not one conv layer fits;
    with ga.fit=redraw, when not one of `tries` random genomes fits."""
    if fit == "repair":
        room = Room.of(blueprint, input_shape, conv_dim, limit=1)
        if conv_chance > 0 and room.max_convs == 0:
            raise BreedingError(
                f"not one conv layer fits inputs of shape {input_shape} (conv_dim={conv_dim}); allow smaller "
                "kernels, strides or pool sizes, or more padding, in the blueprint, use longer inputs, "
                "or set ga.conv_chance=0"
            )
        return
    rng = np.random.default_rng(seed)
    for _ in range(tries):
        if is_valid(sample_genome(blueprint, conv_chance, rng), input_shape, num_classes, conv_dim):
            return
    raise BreedingError(
        f"no genome fits inputs of shape {input_shape} in ga.max_redraws={tries} draws; allow smaller "
        "kernels, strides or pool sizes in the blueprint, or longer inputs"
    )


class Evolution:
    """Generational evolution (the study's method): evaluate, select, cross over, mutate,
    evaluate."""

    mode = "generational"

    def __init__(
        self,
        *,
        blueprint: Blueprint,
        ga: GASettings,
        evaluator: Evaluator,
        runlog: RunLog,
        input_shape: tuple[int, int],
        num_classes: int,
        conv_dim: int = 1,
        seed: int = 0,
        run_id: str = "run",
        progress: bool = True,
        identity: dict[str, Any] | None = None,
        tracker: Any | None = None,
        rungs: Rungs | None = None,
        metric: str = "accuracy",
    ):
        self.blueprint, self.ga, self.evaluator, self.runlog = blueprint, ga, evaluator, runlog
        self.input_shape, self.num_classes, self.conv_dim = input_shape, num_classes, conv_dim
        self.seed, self.run_id, self.progress = seed, run_id, progress
        self.rng = np.random.default_rng(seed)
        self.population: list[Individual] = []
        self.cache: dict[str, dict[str, Any]] = {}  # genome hash -> its evaluation record
        self._best: dict[str, Any] | None = None
        self.generation = 0  # the next generation to run
        self.redraws = 0  # ga.fit=redraw: genomes drawn again because they did not fit
        self.duplicates = 0  # drawn or bred genomes already evaluated in this run (not trained again)
        self.rebred = 0  # ga.unique_children: children bred again because they were known
        self.repairs = 0  # ga.fit=repair: genomes changed so that they fit
        # The longest genome mutation makes is 2 x max_layers.
        self.room = Room.of(blueprint, input_shape, conv_dim, limit=2 * blueprint.max_layers)
        self.generation_stats: list[dict[str, Any]] = []
        self.identity = identity or {}  # the settings a resumed run must share
        self.tracker = tracker  # e.g. garay.tracking.TensorBoardTracker
        self.metric = metric  # the fitness's name in the log (garay.plugins.metric_name)
        self.busy_seconds = 0.0  # worker time spent on this process's evaluations
        self.resumed_evaluations = 0
        # Early stopping (train.early_stop): the rungs, and every result recorded at one
        # (hash, epochs) -> record, also in rungs.jsonl so that a resumed run decides alike.
        self.rungs = rungs or Rungs((0,))
        self.rung_cache: dict[tuple[str, int], dict[str, Any]] = {}
        self.spent: dict[str, float] = {}  # worker seconds spent on an unfinished genome's rungs
        self.epochs_finished = 0  # epochs reached, summed over finished genomes (ga.budget_epochs)
        self._worker_seconds_before = self._worker_seconds()
        # Multi-objective (ga.objectives beyond fitness): NSGA-II selection, pareto.json.
        self.objectives = tuple(ga.objectives)
        self.multi = len(self.objectives) > 1

    def restore(self, checkpoint: dict[str, Any] | None, history: list[dict[str, Any]],
                rung_history: list[dict[str, Any]] = ()) -> None:
        """Continue a run from its files: every finished evaluation in `history` is cached
        (never trained again), and so is every result at an early-stopping rung
        (`rung_history`, so a generation killed between rungs makes the same decisions);
        the checkpoint's population and generator state put the loop back where the last
        finished generation left it. Without a checkpoint (killed in generation 0) the loop
        restarts from the seed and finds its results in the caches."""
        for record in history:
            self._remember(record)
        for record in rung_history:
            self.rung_cache[(record["hash"], record["epochs"])] = record
        self.resumed_evaluations = len(history)
        if history:
            self.run_id = history[0]["run_id"]
        if checkpoint is None:
            return
        self.run_id = checkpoint["run_id"]
        self.generation = checkpoint["next_generation"]
        self.population = [Individual(Genome.from_dict(p["genome"]), p["fitness"], p.get("fidelity", 1.0),
                                      tuple(p.get("costs", ()))) for p in checkpoint["population"]]
        self.rng.bit_generator.state = checkpoint["rng_state"]
        self.redraws = checkpoint["redraws"]
        self.repairs = checkpoint.get("repairs", 0)
        self.duplicates = checkpoint.get("duplicates", 0)
        self.rebred = checkpoint.get("rebred", 0)
        self.generation_stats = checkpoint["generation_stats"]

    # --- the loop -----------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        start = time.perf_counter()
        if self.generation == 0 and not self.population:
            # Before any evaluation: a run killed in generation 0 still leaves its settings
            # (and its generator's starting state) for resume to check against.
            self.runlog.write(CHECKPOINT, self.checkpoint())
        while self.generation < self.ga.generations and not self.budget_spent():
            self.step()
        return self.summary(time.perf_counter() - start)

    def epochs_spent(self, before: int | None = None) -> int:
        """Training epochs spent so far: every finished genome's epochs reached (a genome
        early stopping ended counts only what it trained), rungs of unfinished ones too;
        with `before`, only generations before it."""
        def counted(r: dict[str, Any]) -> bool:
            return before is None or r.get("generation", -1) < before

        finished = (self.epochs_finished if before is None
                    else sum(int(r.get("epochs") or 0) for r in self.cache.values() if counted(r)))
        pending: dict[str, int] = {}
        for (h, e), r in self.rung_cache.items():
            if h not in self.cache and counted(r):
                pending[h] = max(pending.get(h, 0), e)
        return finished + sum(pending.values())

    def budget_spent(self) -> bool:
        """ga.budget_epochs reached by the generations done (a resumed run does not count
        results it holds of the generation it is in: it decides as the uninterrupted run)."""
        return self.ga.budget_epochs is not None and self.epochs_spent(self.generation) >= self.ga.budget_epochs

    def step(self) -> None:
        """One generation; the checkpoint is on disk when it returns."""
        g = self.generation
        population = self.next_population(g)
        if not population:  # random search found nothing new: the search space is spent
            log.info("generation %d: no genome left that was not evaluated already; the run ends", g)
            self.generation = self.ga.generations
            self.runlog.write(CHECKPOINT, self.checkpoint())
            return
        self.population = self.evaluate(population, g)
        self.generation = g + 1
        # Generation statistics over full trainings (and failures), never partial accuracies.
        fitness = [ind.fitness for ind in self.population if not 0 < ind.fidelity < 1] or [0.0]
        stats = {"generation": g, "best": max(fitness), "median": statistics.median(fitness),
                 "mean": statistics.fmean(fitness), "best_so_far": self.best()["fitness"]}
        self.generation_stats.append(stats)
        new = self.new_genome_stats(g)  # what history.jsonl (and garay-report) holds of this generation
        if self.tracker is not None:
            self.tracker.generation(stats, new)
        counted = f"{new['evaluated']}" + (f", {new['stopped']} stopped early" if new["stopped"] else "")
        fresh = (f"new genomes ({counted}) best {new['best']:.4f}, median {new['median']:.4f}"
                 if new["best"] is not None else f"no new genome ranked ({counted})")
        log.info("generation %d (validation %s): population best %.4f, median %.4f; %s; best so far %.4f",
                 g, self.metric, stats["best"], stats["median"], fresh, stats["best_so_far"])
        self.write_results()
        self.runlog.write(CHECKPOINT, self.checkpoint())

    def new_genome_stats(self, generation: int) -> dict[str, Any]:
        """Fitness statistics of the genomes first evaluated in `generation` (its lines in
        history.jsonl), beside generation_stats' population ones (parents and children)."""
        return new_genome_stats(r for r in self.cache.values() if r.get("generation") == generation)

    def next_population(self, generation: int) -> list[Individual]:
        """Generation 0: random genomes. Then the parents (evaluated) and their children
        (not yet evaluated)."""
        if generation == 0:
            return [Individual(genome) for genome in self.initial_genomes()]
        parents = (select_pareto if self.multi else select)(self.population, self.ga.num_parents)
        return parents + [Individual(child) for child in self.breed(parents, generation)]

    # --- breeding -----------------------------------------------------------------------

    def _valid(self, genome: Genome) -> bool:
        return is_valid(genome, self.input_shape, self.num_classes, self.conv_dim)

    def _small_enough(self, genome: Genome) -> bool:
        """Within ga.max_params (a hard limit: a larger genome is bred again, never trained)."""
        limit = self.ga.max_params
        return limit is None or param_count(genome, self.input_shape, self.num_classes, self.conv_dim) <= limit

    def random_genome(self) -> Genome:
        """A genome drawn like an initial one that fits the input (garay.fitting)."""
        if self.ga.fit == "repair":
            return self._sized(lambda: sample_fitting_genome(self.blueprint, self.ga.conv_chance, self.room, self.rng),
                               "initial genome")
        return self._draw_valid(lambda: sample_genome(self.blueprint, self.ga.conv_chance, self.rng),
                                "initial genome")

    def _draw_valid(self, draw: Callable[[], Genome], what: str) -> Genome:
        """A genome from `draw` that fits the input: repaired (ga.fit=repair, see
        garay.fitting), or drawn again whole until it fits, at most ga.max_redraws times
        (ga.fit=redraw, which favours short, conv-poor genomes). With ga.max_params, one
        that is too large is drawn again, at most ga.max_redraws times."""
        return self._sized(lambda: self._draw_fitting(draw, what), what)

    def _sized(self, draw: Callable[[], Genome], what: str) -> Genome:
        """A genome from `draw` within ga.max_params (drawn again while too large)."""
        for _ in range(self.ga.max_redraws if self.ga.max_params is not None else 1):
            genome = draw()
            if self._small_enough(genome):
                return genome
            self.redraws += 1
        raise ConfigError("ga.max_params", f"no {what} with at most {self.ga.max_params} parameters in "
                                           f"ga.max_redraws={self.ga.max_redraws} draws; raise the limit, or narrow the "
                                           "blueprint (smaller layer_sizes, filters, max_layers)")

    def _draw_fitting(self, draw: Callable[[], Genome], what: str) -> Genome:
        if self.ga.fit == "repair":
            genome = draw()
            fixed = repair(genome, self.room, self.blueprint, self.rng)
            self.repairs += fixed != genome
            return fixed
        for _ in range(self.ga.max_redraws):
            genome = draw()
            if self._valid(genome):
                return genome
            self.redraws += 1
        raise BreedingError(
            f"no {what} fits inputs of shape {self.input_shape} in ga.max_redraws={self.ga.max_redraws} "
            "draws; allow smaller kernels, strides or pool sizes in the blueprint, or longer inputs"
        )

    def initial_genomes(self) -> list[Genome]:
        return [self.random_genome() for _ in range(self.ga.population_size)]

    def breed(self, parents: list[Individual], generation: int) -> list[Genome]:
        """Children of random parent pairs fill the population back up. With
        ga.unique_children a child already evaluated (or bred twice in this generation) is
        bred again, at most ga.max_redraws times, so that no place goes to a known genome."""

        def child() -> Genome:
            i, j = self.rng.choice(len(parents), size=2, replace=False)
            kid = crossover(parents[i].genome, parents[j].genome, self.rng)
            return mutate(kid, self.blueprint, self.ga.mutation_rate, self.rng, conv_chance=self.ga.conv_chance)

        seen = self.seen_before(generation)
        children = []
        for _ in range(self.ga.population_size - len(parents)):
            kid = self._draw_valid(child, "child")
            for _ in range(self.ga.max_redraws if self.ga.unique_children else 0):
                if kid.hash not in seen:
                    break
                self.rebred += 1
                kid = self._draw_valid(child, "child")
            seen.add(kid.hash)
            children.append(kid)
        return children

    def seen_before(self, generation: int) -> set[str]:
        """Hashes evaluated in earlier generations. (A resumed run may already hold results
        of this one; counting them would make it breed differently from the run it resumes.)"""
        return {h for h, r in self.cache.items() if r.get("generation", -1) < generation}

    # --- evaluation ---------------------------------------------------------------------

    def evaluate(self, population: list[Individual], generation: int) -> list[Individual]:
        """Send out only unevaluated genomes not seen before in this run; write each result
        to history the moment it arrives; return the population with fitness filled in.
        With early stopping the generation's new genomes go through successive halving."""
        seen = self.seen_before(generation)
        cohort: dict[str, Task] = {}
        for n, ind in enumerate(population):
            h = ind.genome.hash
            if ind.evaluated:
                continue
            if h in seen or h in cohort:
                self.duplicates += 1  # bred again: its fitness is known (or coming) already
                continue
            cohort[h] = Task(f"g{generation}-{n}", ind.genome, evaluation_seed(self.seed, h, generation), generation)
        bar = progress_bar(len(cohort), f"gen {generation}", self.progress, tick=True)
        if self.rungs.active:
            self.halve(list(cohort.values()), generation, bar)
        else:
            todo = [t for t in cohort.values() if t.genome.hash not in self.cache]  # not resumed
            bar.update(len(cohort) - len(todo))
            for result in evaluate_all(self.evaluator, todo):
                self.finish(result)
                bar.update(1)
                bar.set_postfix(best=f"{self.best()['fitness']:.3f}")
        bar.close()
        return [ind if ind.evaluated else self.individual(self.cache[ind.genome.hash], ind.genome)
                for ind in population]

    def individual(self, record: dict[str, Any], genome: Genome | None = None) -> Individual:
        """An evaluation as the GA ranks it (garay.fidelity.standing)."""
        fidelity, score = standing(record, self.rungs.full)
        return Individual(genome or Genome.from_dict(record["genome"]), score, fidelity, self.costs(record))

    def costs(self, record: dict[str, Any]) -> tuple[float, ...]:
        """The objectives after fitness, as costs (lower is better); () for fitness alone."""
        if not self.multi:
            return ()
        value = {"params": float(record["params"]), "latency": float(record.get("latency_ms") or math.inf)}
        return tuple(value[o] for o in self.objectives[1:])

    def pareto(self) -> list[dict[str, Any]]:
        """The non-dominated full, successful evaluations (fitness against the costs),
        smallest first: what pareto.json holds."""
        done = sorted((r for r in self.cache.values() if r["status"] == "ok"), key=lambda r: r["hash"])
        points = [(r["fitness"], *(-c for c in self.costs(r))) for r in done]
        front = [done[i] for i in (non_dominated_sort(points) or [[]])[0]]
        keep = ("hash", "genome", "fitness", "val_accuracy", "test_accuracy", "params", "latency_ms",
                "val_metric", "test_metric", "generation", "birth")
        return [{k: r[k] for k in keep if k in r} for r in sorted(front, key=lambda r: (r["params"], -r["fitness"]))]

    def write_results(self) -> None:
        """best.json, and with several objectives pareto.json (the front takes the place of
        honour: no single genome is best)."""
        self.runlog.write(BEST, self.best())
        if self.multi:
            self.runlog.write(PARETO, {"objectives": list(self.objectives), "max_params": self.ga.max_params,
                                       "front": self.pareto()})

    def halve(self, cohort: list[Task], generation: int, bar: Any) -> None:
        """Successive halving over one generation's new genomes: all train to the first
        rung; the best 1/eta (or those at or above the median) continue to the next, from
        where they paused; and so on up to the full training. The rest are recorded as
        `stopped`. Each decision waits for the whole rung and depends only on its results
        (ties on the hash), so a run is the same whatever the worker count; results a
        resumed run finds in history.jsonl and rungs.jsonl are not trained again."""
        alive, states = cohort, {}
        for rung in self.rungs.epochs:
            final = rung == self.rungs.full
            scores: dict[str, float] = {}
            todo = []
            for task in alive:
                h = task.genome.hash
                done = self.cache.get(h)
                if not final and (h, rung) in self.rung_cache:
                    scores[h] = self.rung_cache[(h, rung)]["val_accuracy"]
                    self.spent[h] = self.rung_cache[(h, rung)]["seconds"]
                elif done is not None and (final or (done["status"] not in ("ok", "stopped")
                                                     and done.get("rung") == rung)):
                    bar.update(1)  # finished (or failed at this rung) before the run was resumed
                else:
                    todo.append(replace(task, epochs=rung, state=states.pop(h, None)))
            for result in evaluate_all(self.evaluator, todo):
                record = self.segment(result)
                if final or record["status"] != "ok":
                    self.commit(record)
                    bar.update(1)
                    bar.set_postfix(best=f"{self.best()['fitness']:.3f}", rung=rung)
                    continue
                self.runlog.append(record, RUNGS)
                self.rung_cache[(record["hash"], rung)] = record
                scores[record["hash"]] = record["val_accuracy"]
                states[record["hash"]] = result.state
            if final:
                return
            if self.rungs.policy == "median":
                earlier = [r["val_accuracy"] for (_, e), r in self.rung_cache.items()
                           if e == rung and r.get("generation", -1) < generation]
                keep = median_survivors(scores, earlier)
            else:
                keep = halving_survivors(scores, self.rungs.eta)
            cut = min(scores[h] for h in keep) if keep else 0.0
            for h in sorted(set(scores) - keep):
                states.pop(h, None)  # frees the paused training
                if h not in self.cache:  # (a resumed run may have recorded it already)
                    self.stop(self.rung_cache[(h, rung)], f"{self.rungs.policy} at epoch {rung}: "
                              f"{scores[h]:.4f} below the {len(keep)} of {len(scores)} kept (lowest {cut:.4f})")
                bar.update(1)
            alive = [t for t in alive if t.genome.hash in keep]

    def segment(self, result: Result) -> dict[str, Any]:
        """The record of a training that reached a rung (or ended): its seconds count every
        rung the genome trained for so far."""
        h = result.task.genome.hash
        self.busy_seconds += result.evaluation.seconds
        self.spent[h] = self.spent.get(h, 0.0) + result.evaluation.seconds
        return self.record(replace(result, evaluation=replace(result.evaluation, seconds=self.spent[h])))

    def stop(self, rung_record: dict[str, Any], reason: str) -> dict[str, Any]:
        """Record a genome early stopping ended: status `stopped`, fitness 0 (its partial
        accuracy stays in val_accuracy, at `epochs`, and never ranks as a full one)."""
        return self.commit({**rung_record, "status": "stopped", "fitness": 0.0, "reason": reason,
                            "finished_at": time.time()})

    def finish(self, result: Result) -> dict[str, Any]:
        """A result has arrived: on disk first, then into the cache and the tracker."""
        self.busy_seconds += result.evaluation.seconds
        return self.commit(self.record(result))

    def commit(self, record: dict[str, Any]) -> dict[str, Any]:
        """A genome's final record: on disk first, then into the cache and the tracker."""
        self.spent.pop(record["hash"], None)
        self.runlog.append(record)
        self._remember(record)
        if self.tracker is not None:
            self.tracker.evaluation(record)
        return record

    def record(self, result: Result) -> dict[str, Any]:
        """The history.jsonl line of one finished evaluation."""
        ev, task = result.evaluation, result.task
        return {
            "run_id": self.run_id,
            **({"generation": task.generation} if task.birth is None else {"birth": task.birth}),
            "key": task.key,
            "genome": task.genome.to_dict(),
            "hash": task.genome.hash,
            "fitness": ev.fitness,
            "val_accuracy": ev.val_accuracy,
            "test_accuracy": ev.test_accuracy,
            **({"val_metric": ev.val_metric, "test_metric": ev.test_metric} if ev.val_metric is not None else {}),
            **({"latency_ms": round(ev.latency_ms, 4)} if ev.latency_ms is not None else {}),
            "status": ev.status,
            "error": ev.error,
            "seconds": round(ev.seconds, 4),
            "epochs": ev.epochs,
            "val_scores": list(ev.val_scores),
            "curve": [round(v, 6) for v in ev.curve],
            "losses": [round(v, 6) for v in ev.losses],
            **({"rung": task.epochs} if task.epochs is not None else {}),
            "params": ev.params or param_count(task.genome, self.input_shape, self.num_classes, self.conv_dim),
            "seed": task.seed,
            "worker": result.worker,
            "node_id": result.node_id,
            "gpu_ids": result.gpu_ids,
            "cuda_visible_devices": result.cuda_visible_devices,
            "attempts": result.attempts,
            "finished_at": time.time(),
        }

    # --- results ------------------------------------------------------------------------

    def _remember(self, record: dict[str, Any]) -> None:
        """Cache an evaluation and keep the best so far up to date (no rescan per result)."""
        self.cache[record["hash"]] = record
        self.epochs_finished += int(record.get("epochs") or 0)
        if self._best is None or record_rank(record) < record_rank(self._best):
            self._best = record

    def best(self) -> dict[str, Any]:
        """The fittest evaluation so far (ties: lower hash), as best.json holds it."""
        r = self._best
        if r is None:
            return {"fitness": 0.0}
        return {"genome": r["genome"], "hash": r["hash"], "fitness": r["fitness"],
                "val_accuracy": r["val_accuracy"], "test_accuracy": r["test_accuracy"],
                "params": r["params"], **{k: r[k] for k in ("generation", "birth", "val_metric", "test_metric") if k in r}}

    def checkpoint(self) -> dict[str, Any]:
        """JSON state to continue from: population, generator state, evaluated hashes."""
        return {
            "run_id": self.run_id,
            "seed": self.seed,
            "next_generation": self.generation,
            "population": [{"genome": ind.genome.to_dict(), "fitness": ind.fitness, "fidelity": ind.fidelity,
                            **({"costs": list(ind.costs)} if ind.costs else {})} for ind in self.population],
            "rng_state": self.rng.bit_generator.state,
            "identity": self.identity,
            "evaluated_hashes": sorted(self.cache),
            "redraws": self.redraws,
            "repairs": self.repairs,
            "duplicates": self.duplicates,
            "rebred": self.rebred,
            "generation_stats": self.generation_stats,
        }

    def summary(self, seconds: float) -> dict[str, Any]:
        statuses: dict[str, int] = {}
        for r in self.cache.values():
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        return {
            "run_id": self.run_id,
            "seed": self.seed,
            "mode": self.mode,
            "generations": self.generation,
            "evaluations": len(self.cache),
            "budget": self.ga.budget,
            "budget_epochs": self.ga.budget_epochs,
            "epochs_spent": self.epochs_spent(),
            "duplicates": self.duplicates,
            "rebred": self.rebred,
            "statuses": statuses,
            "fit": self.ga.fit,
            "redraws": self.redraws,
            "repairs": self.repairs,
            "resumed_evaluations": self.resumed_evaluations,
            "early_stop": {"policy": self.rungs.policy, "rungs": list(self.rungs.epochs), "eta": self.rungs.eta}
            if self.rungs.active else {"policy": "none"},
            "best": self.best(),
            **({"objectives": list(self.objectives), "max_params": self.ga.max_params, "front": self.pareto()}
               if self.multi else {}),
            "generation_stats": self.generation_stats,  # over the population after each generation
            "new_genome_stats": [{"generation": s["generation"], **self.new_genome_stats(s["generation"])}
                                 for s in self.generation_stats],
            "wall_seconds": round(seconds, 3),
            "worker_seconds": round(sum(r["seconds"] for r in self.cache.values()), 3),
            "utilisation": self.utilisation(seconds),
        }

    def _worker_seconds(self) -> float | None:
        """Live-worker seconds so far, from an evaluator whose pool grows and shrinks."""
        counter = getattr(self.evaluator, "worker_seconds", None)
        return counter() if callable(counter) else None

    def utilisation(self, seconds: float) -> float:
        """Busy time of the workers over the time workers were live during this process's
        evolution (a fixed pool: workers x wall time)."""
        now = self._worker_seconds()
        if now is None or self._worker_seconds_before is None:
            available = self.evaluator.num_workers * seconds
        else:
            available = now - self._worker_seconds_before
        return round(self.busy_seconds / max(available, 1e-9), 4)
