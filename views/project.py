"""Projects as the wire shows them (their listing shares views/search.intelligence_view)."""

from __future__ import annotations

AUDIT_PASSED = {"check_not_pass": False, "check_not_pass_msg": ""}  # no content check here
