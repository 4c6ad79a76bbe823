"""`moments demo` end to end: the installed command, a real subprocess, stdin and stdout only."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MOMENTS = Path(sys.executable).parent / "moments"
# Per expectation: a guard against a hung demo, not a speed claim (timings live in bench/startup.py; a loaded
# 2-core machine took 8-15 s to start the bot, and that made a 10 s limit fail for no fault of the demo).
TIMEOUT = 60.0


class Transcript:
    """Collects the demo's stdout in a thread, so the test can wait for text without blocking on a pipe."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.text = ""
        self.mark = 0  # expectations look only at output after the last thing found
        self.ended = False  # stdout closed: nothing more will come
        self._changed = threading.Condition()
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        assert self.process.stdout is not None
        while chunk := self.process.stdout.read(1):
            with self._changed:
                self.text += chunk
                self._changed.notify_all()
        with self._changed:
            self.ended = True
            self._changed.notify_all()

    def expect(self, pattern: str, timeout: float = TIMEOUT) -> re.Match[str]:
        """Wait for a regex in the output after the mark, then move the mark past it."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while (found := regex.search(self.text, self.mark)) is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.ended:
                    pytest.fail(f"no {pattern!r} in the demo's output within {timeout}s; after the mark:\n"
                                f"{self.text[self.mark:]}\n--- whole output ---\n{self.text}")
                self._changed.wait(min(remaining, 0.2))
            self.mark = found.end()
            return found

    def see(self, text: str) -> None:
        self.expect(re.escape(text))

    def number(self, label: str) -> str:
        """The number the demo gave the button ``label`` on the screen now showing."""
        return self.expect(r"\[(\d+)\] " + re.escape(label) + r"(?:  |\n)").group(1)


@pytest.fixture
def demo() -> Iterator[tuple[subprocess.Popen[str], Transcript]]:
    # No token and no database from the caller's environment: the demo must need neither.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "MOMENTS_", "DATABASE_", "PLAYBOOKS_"))}
    env.update(MOMENTS_CONFIG=str(ROOT / "config.yaml"), PYTHONIOENCODING="utf-8", NO_COLOR="1")
    # The staff role: the playbook's own staff limit (€50) is what the outcome card shows.
    process = subprocess.Popen([str(MOMENTS), "demo", "--role", "staff"], cwd=ROOT, env=env, text=True,
                               encoding="utf-8", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    try:
        yield process, Transcript(process)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=5)


def test_a_whole_decision_in_the_terminal(demo: tuple[subprocess.Popen[str], Transcript]) -> None:
    process, out = demo

    def type_(line: str) -> None:
        assert process.stdin is not None
        process.stdin.write(line + "\n")
        process.stdin.flush()

    def press(label: str) -> None:
        type_(out.number(label))

    out.see("/quit")  # the intro says how to leave
    type_("/start")
    out.see("A customer moment")
    type_("customer lost the receipt and wants money back")
    out.see("Is it something we sell")
    press("Yes, or I can't tell")
    out.see("find the purchase another way")
    press("Yes, found it")
    out.see("What state is the item in?")
    press("Unused, can be sold again")
    out.see("You may spend up to €50.00")
    press("✅ Done as suggested")
    out.see("how much did it cost")
    type_("20")
    out.see("Add a one-line note")
    press("Skip")
    out.see("How did the customer react?")
    press("Skip")
    out.see("Decision #1 recorded")
    type_("/quit")
    assert process.wait(timeout=TIMEOUT) == 0
    assert "Traceback" not in out.text and "ERROR" not in out.text
