"""Batches of films: ``main.py batch INPUT --out DIR``, each film a Ray task in its own run folder.

Modules, one concept each:
    ``inputs``   INPUT (a loglines file, a folder of ST-Bench scripts, or proposals for a theme) as
                 the list of films, each with a stable key (its run folder's name);
    ``index``    ``DIR/batch.json`` (:class:`~schemas.batch.BatchIndex`): load, reconcile with the
                 run folders, decide what to run, save atomically; the batch lock;
    ``work``     the worker: a plain function that starts or resumes one film's run folder through
                 :mod:`agents.runs` and returns its outcome (no Ray in it);
    ``progress`` shot progress of running films: the worker-side events and the board that collects
                 them (plain classes; the driver puts the board in a Ray actor);
    ``driver``   the Ray driver: joins or starts the cluster, submits one task per film with its
                 resources, bounds the films at once, collects outcomes, stops cleanly on Ctrl-C.

The driver owns the state (the index); workers are plain functions over explicit inputs. Only
``driver`` imports Ray.
"""


class BatchError(RuntimeError):
    """The batch cannot start as asked (bad INPUT, bad flag, Ray unavailable); one-line message."""
