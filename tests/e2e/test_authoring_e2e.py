"""A manager changes a playbook in the chat alone: upload, see the diff, publish, download the live YAML."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import ROOT, Stack

REFUND_FILE = ROOT / "playbooks" / "retail" / "refund-without-receipt.yaml"


async def test_upload_publish_and_download_the_live_yaml(stack: Stack, tmp_path: Path) -> None:
    mia = await stack.staff(3101, "Mia", role="manager")
    edited = REFUND_FILE.read_text(encoding="utf-8").replace("limits: {staff: 50", "limits: {staff: 65")
    upload = tmp_path / "refund-without-receipt.yaml"
    upload.write_text(edited, encoding="utf-8")

    await mia.send_document(upload, caption="Staff may refund a little more")
    diff = mia.screen()
    assert "Limit for Staff: 50 → 65" in diff.text
    assert diff.labels == ["🚀 Publish", "🧪 Try it", "🗑 Discard"]
    await mia.press("🚀 Publish")
    assert "is live for everyone now" in mia.screen().text

    await mia.send("/playbooks")
    await mia.press("📄 Refund without a receipt")
    assert "Staff may refund a little more" in mia.screen().text
    await mia.press("⬇ Download YAML")
    await stack.api.wait_until(lambda: bool(mia.documents), 10, "the live YAML")
    [document] = mia.documents
    assert document.filename == "refund-without-receipt.yaml"
    assert document.data.decode("utf-8") == edited
