"""Progress bars (overall and per shot) drawn from the director's events, with rich."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class RichEvents:
    """Implements :class:`agents.director.runtime.Events` with two bars: the film and the current shot."""

    def __init__(self, console: Console, quiet: bool = False):
        self.console = console
        self.quiet = quiet
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=False, disable=quiet,
        )
        self._film = None
        self._shot = None
        self._llm = None
        self.shown: list[str] = []
        """The notices printed so far (the summary leaves them out, so each is printed once)."""
        self._started = False

    def __enter__(self) -> "RichEvents":
        return self

    def __exit__(self, *exc) -> None:
        if self._started:
            self.progress.stop()

    def _start(self) -> None:
        # Bars appear with the first event, so an early error prints nothing but its one line.
        if not self._started:
            self.progress.start()
            self._started = True

    def run_started(self, n_shots: int, done: int) -> None:
        self._start()
        if self._film is None:
            self._film = self.progress.add_task("film", total=n_shots, completed=0)
        else:
            self.progress.update(self._film, total=n_shots, completed=0)

    def shot_started(self, shot_id: str, index: int, attempt: int, mode: str) -> None:
        label = f"shot {shot_id} {mode}" + (f" (attempt {attempt})" if attempt > 1 else "")
        if self._shot is None:
            self._shot = self.progress.add_task(label, total=None)
        else:
            self.progress.reset(self._shot, description=label, total=None)

    def render_progress(self, done: int, total: int) -> None:
        if self._shot is not None:
            self.progress.update(self._shot, completed=done, total=total)

    def shot_finished(self, shot_id: str, index: int, status: str) -> None:
        if self._film is not None:
            self.progress.update(self._film, completed=index + 1)
        if status == "reused" and not self.quiet:
            self.progress.console.print(f"  shot {shot_id}: unchanged, reused")

    def llm_progress(self, progress) -> None:
        """A model answer streaming in: one line with its tokens and tokens/s, kept when it is done."""
        if self.quiet:
            return
        self._start()
        if self._llm is None:
            self._llm = self.progress.add_task(progress.line(), total=None)
        self.progress.update(self._llm, description=progress.line(), completed=progress.tokens)
        if progress.done:
            self.progress.remove_task(self._llm)
            self._llm = None
            self.progress.console.print(f"  {progress.line()}", highlight=False)

    def notice(self, message: str) -> None:
        """Print ``message`` once as it happens (a notice already printed is not printed again)."""
        if self.quiet or message in self.shown:
            return
        self.shown.append(message)
        self.progress.console.print(f"[yellow]note:[/] {escape(message)}", highlight=False)
