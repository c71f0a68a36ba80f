"""``talkinghead serve``: a local web page and an HTTP job API over the batch runner.

- :mod:`.app`: the FastAPI app (routes, the page, the OpenAPI description).
- :mod:`.store`: jobs and faces in SQLite (they survive a restart).
- :mod:`.worker`: runs queued jobs through :mod:`talkinghead.batch.executors`.
- :mod:`.uploads`: checking uploaded faces, recordings and scripts by their content.
- :mod:`.jobs`: a job request -> a checked batch :class:`~talkinghead.batch.JobSpec`.
- :mod:`.security`: loopback by default, the token, size limits, origin checks.
- :mod:`.paths`: the data folder's layout (every path made from server ids).

Needs the ``serve`` extra (``pip install 'talkinghead[serve]'``).
"""

from .config import ServeConfig

__all__ = ["ServeConfig"]
