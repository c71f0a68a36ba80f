"""Batch dubbing from config files: many jobs (face + script/recording -> mp4) from one YAML.

>>> from talkinghead.batch import run_batch
>>> summary = run_batch("examples/dubbing.yaml", jobs=2, resume=True)
>>> print(summary.table()); summary.exit_code

See :mod:`talkinghead.batch.config` for the file format.
"""

from .config import BatchConfig, BatchConfigError, JobSpec, load_config
from .runner import BatchSummary, JobResult, run_batch

__all__ = ["BatchConfig", "BatchConfigError", "BatchSummary", "JobResult", "JobSpec", "load_config", "run_batch"]
