"""Kept for configs that name `garay.standin.sleep_trainer`: garay.execution.standin holds it now."""
from garay.execution.standin import SleepTrainer, sleep_trainer  # noqa: F401
