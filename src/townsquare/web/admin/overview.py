"""The admin area's overview, the health page (what needs the curator) and the audit log."""

from __future__ import annotations

from starlette.responses import Response

from ...curation.health import Health, assess_all, counts, needs_attention
from ...store import ItemKind
from .context import Admin, page

AUDIT_PAGE = 50


@page
def overview(admin: Admin) -> Response:
    assessed = assess_all(admin.store.sources(), admin.store.latest_published(), admin.now())
    failing, silent = needs_attention(assessed)
    queue = admin.store.queue_counts()
    return admin.render(
        "admin/overview.html",
        title="Overview",
        section="overview",
        counts=counts(assessed),
        states=list(Health),
        failing=len(failing),
        silent=len(silent),
        suggestions=queue.get(ItemKind.SUGGESTION, 0),
        requests=queue.get(ItemKind.TAKEDOWN, 0) + queue.get(ItemKind.EXCERPTS, 0),
        total=len(assessed),
    )


@page
def health(admin: Admin) -> Response:
    now = admin.now()
    assessed = assess_all(admin.store.sources(), admin.store.latest_published(), now)
    failing, silent = needs_attention(assessed)
    return admin.render(
        "admin/health.html",
        title="Health",
        section="health",
        failing=failing,
        silent=silent,
        counts=counts(assessed),
        states=list(Health),
        now=now,
        email_to=admin.config.curator_address,
    )


@page
def audit(admin: Admin) -> Response:
    raw = admin.query("page", "1")
    number = int(raw) if raw.isdigit() and 0 < int(raw) < 100_000 else 1
    entries = admin.store.audit_log(limit=AUDIT_PAGE + 1, offset=(number - 1) * AUDIT_PAGE)
    base = admin.paths.admin("audit")
    return admin.render(
        "admin/audit.html",
        title="Audit log",
        section="audit",
        entries=entries[:AUDIT_PAGE],
        number=number,
        newer=f"{base}?page={number - 1}" if number > 1 else None,
        older=f"{base}?page={number + 1}" if len(entries) > AUDIT_PAGE else None,
    )
