"""Seeing a playbook: DOT source, PNG/SVG rendering with Graphviz, `moments graph` and `/graph ID`."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from aiogram.methods import SendDocument, SendPhoto

from bot.cli import main
from bot.core import graph as graph_core
from bot.core.graph import GraphvizMissing, dot_source, png_size, render
from bot.core.loader import load_directory
from bot.core.playbook import Playbook
from bot.handlers import graph as graph_handler
from tests.conftest import ADMIN_ID
from tests.harness import Harness
from tests.test_handlers_flow import staff

SHIPPED = Path(__file__).resolve().parent.parent / "playbooks"
HAVE_DOT = shutil.which("dot") is not None
REQUIRE = os.environ.get("MOMENTS_REQUIRE_GRAPHVIZ") == "1"


def needs_dot() -> None:
    if HAVE_DOT:
        return
    if REQUIRE:
        pytest.fail("MOMENTS_REQUIRE_GRAPHVIZ is set but Graphviz's `dot` is not installed (apt-get install graphviz)")
    pytest.skip("Graphviz's `dot` is not installed (apt-get install graphviz); CI sets MOMENTS_REQUIRE_GRAPHVIZ=1")


def node(source: str, name: str) -> str:
    """The whole statement of one node (labels span lines)."""
    match = re.search(rf'\t"{name}" \[(.*?)\]\n', source, flags=re.DOTALL)
    assert match, name
    return match.group(1)


@pytest.fixture(scope="module")
def refund() -> Playbook:
    playbooks, _ = load_directory(SHIPPED)
    return next(p for p in playbooks if p.id == "refund-without-receipt")


def test_dot_source_has_steps_answers_and_marked_outcomes(refund: Playbook) -> None:
    source = dot_source(refund)
    assert source.startswith("digraph refund-without-receipt {") or source.startswith('digraph "refund-without')
    # steps are boxes with their question; the start has a thick border
    assert 's_ours [label="Is it something we sell (our\nbrand, our label, or the barcode\nis in our system)?"' \
        in source
    assert "shape=box" in source and "penwidth=3" in source
    # answers label the arrows
    assert 's_ours -> s_proof [label="Yes, or I can\'t tell"]' in source
    assert 's_genuine -> "o_lead-review" [label="Something feels off"]' in source
    # outcomes are ellipses; customer-favouring ones green with a star, the others not
    full = node(source, "o_full-refund")
    assert "★ Refund in full" in full and f"fillcolor=\"{graph_core.FAVOURS_FILL}\"" in full and "ellipse" in full
    review = node(source, "o_lead-review")
    assert "★" not in review and graph_core.FAVOURS_FILL not in review
    assert source.count("★") == sum(o.favours_customer for o in refund.outcomes.values())


def test_dot_source_in_another_language(refund: Playbook) -> None:
    assert "Reso senza scontrino" in dot_source(refund, "it")
    assert "Refund without a receipt" in dot_source(refund, "en")


def test_render_png_and_svg(refund: Playbook) -> None:
    needs_dot()
    png = render(refund, "png")
    assert png.startswith(b"\x89PNG")
    width, height = png_size(png)
    assert 400 < width < 4000 and 200 < height < 4000
    svg = render(refund, "svg")
    assert b"<svg" in svg and "★ Offer store credit".encode() in svg


def test_render_refuses_other_formats(refund: Playbook) -> None:
    with pytest.raises(ValueError):
        render(refund, "gif")


def test_every_shipped_playbook_renders_and_fits_as_a_photo() -> None:
    needs_dot()
    playbooks, _ = load_directory(SHIPPED)
    for playbook in playbooks:
        assert graph_handler.fits_as_photo(render(playbook, "png")), playbook.id


def test_missing_dot_is_a_clear_error(refund: Playbook, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(GraphvizMissing, match="apt-get install graphviz"):
        render(refund, "png")


# --- moments graph ---------------------------------------------------------------------------------------


def test_cli_graph_writes_png_and_svg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    needs_dot()
    monkeypatch.setenv("PLAYBOOKS_DIR", str(SHIPPED))
    assert main(["graph", "noisy-room", "-o", str(tmp_path / "tree.png")]) == 0
    assert (tmp_path / "tree.png").read_bytes().startswith(b"\x89PNG")
    assert "decision tree of noisy-room" in capsys.readouterr().out
    assert main(["graph", str(SHIPPED / "retail" / "price-mismatch.yaml"), "-o", str(tmp_path / "t.svg")]) == 0
    assert b"<svg" in (tmp_path / "t.svg").read_bytes()


def test_cli_graph_unknown_id_and_bad_extension(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PLAYBOOKS_DIR", str(SHIPPED))
    assert main(["graph", "nope", "-o", str(tmp_path / "tree.png")]) == 1
    err = capsys.readouterr().err
    assert "no playbook 'nope'" in err and "noisy-room" in err
    assert main(["graph", "noisy-room", "-o", str(tmp_path / "tree.gif")]) == 2
    assert "must end in .png or .svg" in capsys.readouterr().err
    assert not (tmp_path / "tree.png").exists()


# --- /graph ID in the chat -------------------------------------------------------------------------------


async def test_admin_gets_the_tree_as_a_photo(harness: Harness) -> None:
    needs_dot()
    admin = harness.person(ADMIN_ID, "Alice")
    await admin.send("/graph refund-without-receipt")
    [photo] = harness.session.sent(SendPhoto)
    assert int(photo.chat_id) == ADMIN_ID
    assert photo.photo.data.startswith(b"\x89PNG") and photo.photo.filename == "refund-without-receipt.png"
    assert "Refund without a receipt" in photo.caption and "★" in photo.caption


async def test_a_tree_too_tall_for_a_photo_goes_as_a_file(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    tall = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (100).to_bytes(4, "big") + (9000).to_bytes(4, "big")
    monkeypatch.setattr(graph_handler, "render", lambda *args: tall)
    await harness.person(ADMIN_ID, "Alice").send("/graph noisy-room")
    assert harness.session.sent(SendPhoto) == []
    [document] = harness.session.sent(SendDocument)
    assert document.document.filename == "noisy-room.png"


async def test_unknown_id_and_no_id_get_a_clear_reply(harness: Harness) -> None:
    admin = harness.person(ADMIN_ID, "Alice")
    await admin.send("/graph nope")
    text = admin.last_text()
    assert "There is no playbook <code>nope</code>" in text and "<code>noisy-room</code>" in text
    await admin.send("/graph")
    assert "Send <code>/graph ID</code>" in admin.last_text()
    assert harness.session.sent(SendPhoto) == []


async def test_missing_dot_gets_a_clear_reply(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(*args: object) -> bytes:
        raise GraphvizMissing("no dot")

    monkeypatch.setattr(graph_handler, "render", missing)
    admin = harness.person(ADMIN_ID, "Alice")
    await admin.send("/graph noisy-room")
    assert "Graphviz is not installed" in admin.last_text()
    assert harness.session.sent(SendPhoto) == []


@pytest.mark.parametrize("role", ["staff", "lead", "supervisor"])
async def test_graph_refused_to_roles_that_do_not_edit_playbooks(harness: Harness, role: str) -> None:
    person = await staff(harness, telegram_id=2100, role=role)
    await person.send("/graph refund-without-receipt")
    assert "not part of your role" in person.last_text()
    assert harness.session.sent(SendPhoto) == [] and harness.session.sent(SendDocument) == []


async def test_manager_may_use_graph(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(graph_handler, "render", lambda *args: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
                        + (800).to_bytes(4, "big") + (600).to_bytes(4, "big"))
    manager = await staff(harness, telegram_id=2100, role="manager")
    await manager.send("/graph noisy-room")
    assert len(harness.session.sent(SendPhoto)) == 1
