"""Models that judge frames, behind one small interface, loaded once and shared by ``eval`` and the critic.

``build.build_judges`` gives the :class:`base.Judges` (aesthetic, video-text, prompt-text, faces);
``identity.IdentityScorer`` matches faces to characters. docs/eval.md describes the metrics.
"""
