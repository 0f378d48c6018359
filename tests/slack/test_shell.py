"""`tagpin shell`: typed lines go through the bolt app as signed requests; replies and posts print as text."""

from __future__ import annotations

import io
from pathlib import Path

from bot.__main__ import build_context
from bot.config import Settings
from bot.shell import run_shell


def test_piped_lines_are_answered_as_in_slack(tmp_path: Path) -> None:
    ctx = build_context(Settings.from_env({"HOME": str(tmp_path),
                                           "TAGPIN_DATABASE_URL": f"sqlite:///{tmp_path / 'tagpin.db'}"}))
    out = io.StringIO()
    lines = "/tagpin help\n/deploy\n/rollback acme\nconfirm\n/audit acme\nexit\n/status never-read\n"
    assert run_shell(ctx, name="alice", stdin=io.StringIO(lines), out=out) == 0
    text = out.getvalue()
    assert "tagpin> /tagpin help" in text and "/tagpin deploy TENANT" in text
    assert "(only you) │ ⚠️  which tenant?" in text                          # usage error, in the ack
    assert "#audit │ /rollback acme by ULOCAL (@alice)" in text               # the audit thread's parent
    assert "acme has no earlier converged deployment to roll back to" in text   # refused before any template
    assert "nothing to confirm or cancel" in text
    assert "Audit trail of acme" in text and "rollback acme → refused" in text
    assert "never-read" not in text.split("exit")[-1]                          # `exit` stops reading
