"""The identity check every critic applies: a cast character whose face is far from its earlier faces.

Input: :attr:`CritiqueInput.identity`, measured by the director with the shared face judge
(``engine.scoring.identity``). A face beyond the threshold (dlib's same-person boundary, 0.6 on the 128-d
descriptor; one person measures 0.1-0.25 under pose and light changes, two people 0.7+) is a ``major``
``identity`` finding, and the verdict is, in this order:

1. ``SwapKeyframes`` adding the character's best earlier keyframes (closest to its anchor) that the shot's
   memory lacks -- the memory is what StoryMem keeps characters consistent with;
2. ``InjectDetails`` when the prompt does not carry the character's bible details;
3. ``Rerender`` (new seed) otherwise.

The director's retry budgets (per shot and per run) bound how often this can happen. Shots whose
keyframes show no face skip the check and say so (an ``info`` finding).
"""

from __future__ import annotations

from schemas.critique import CritiqueInput, Finding, InjectDetails, Rerender, SwapKeyframes, Verdict
from story.details import has_details, key_details


def identity_check(inp: CritiqueInput) -> tuple[list[Finding], Verdict | None]:
    """Findings about identity, and the retry verdict when a character's face is far (else None)."""
    findings: list[Finding] = []
    if inp.identity_note:
        findings.append(Finding(check="identity", severity="info", message=f"identity not checked: {inp.identity_note}"))
    ev = inp.identity
    if not ev:
        return findings, None
    if all(e.status == "no_face" for e in ev):
        findings.append(Finding(check="identity", severity="info",
                                message="identity check skipped: no face in the shot's keyframes"))
        return findings, None
    far = []
    for e in ev:
        if e.status == "far":
            far.append(e)
            findings.append(Finding(
                check="identity", severity="major", value=e.distance,
                message=f"{e.character}'s face is {e.distance:.2f} from their anchor face ({e.anchor or 'earlier shots'}; "
                        f"same person below {e.threshold:.2f})"))
        elif e.status == "match":
            findings.append(Finding(check="identity", severity="info", value=e.distance,
                                    message=f"{e.character} matches their anchor face ({e.anchor}; {e.distance:.2f} < {e.threshold:.2f})"))
        elif e.status == "no_face":
            findings.append(Finding(check="identity", severity="info", message=f"{e.character}: no face seen; skipped"))
        else:
            findings.append(Finding(check="identity", severity="info",
                                    message=f"{e.character}: no earlier face to compare with yet"))
    if not far:
        return findings, None
    names = ", ".join(e.character for e in far)
    add = [k for e in far for k in e.best_keyframes if k not in e.in_memory and k not in inp.memory_ids]
    if add:
        return findings, SwapKeyframes(add=list(dict.fromkeys(add))[:4],
                                       reason=f"{names} drifted from earlier shots; remember their best earlier keyframes")
    by_name = {c.name: c for c in list(inp.characters) + list(inp.bible)}
    lacking = [e.character for e in far if e.character in by_name and key_details(by_name[e.character])
               and not has_details(inp.prompt, by_name[e.character])]
    if lacking:
        return findings, InjectDetails(characters=lacking, reason=f"{', '.join(lacking)} drifted; spell out their bible details")
    return findings, Rerender(reason=f"{names} drifted from earlier shots; resample with a new seed")
