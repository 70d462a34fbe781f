"""A sheet or the grid against one portal: read what its entries name (clients, employees, currencies, the
plans of those periods) in a few list calls, compute the change set (``b24app.changeset``), and write it in
batches of 50 commands.

Reads: the currencies; the employees (``user.get``, 50 a page); the clients named by id (``crm.item.list``
``@id``, 50 ids a command) and, only when some entry names a client by name, every company and contact in fast
mode (2,500 a call); the plans whose period overlaps the entries' (``<=begindate`` / ``>=closedate``, fast mode).

A write sends the creates and changes 50 to a ``batch`` call, in order. A command the portal refuses, or a whole
batch call that fails, is reported with what was written before it; nothing is retried blindly. Saving again
reads the portal again, so what was written is now "unchanged" and only the rest is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from b24app.changeset import ChangeSet, Client, Directory, ExistingPlan, Person, Target, plan_changes, recurrence_of
from b24app.installations import Installation
from b24app.planmath import parse_date
from b24app.rest.clients import RestClient
from b24app.rest.errors import B24Error
from b24app.schema import COMPANY, CONTACT
from b24app.sheet import Entry, Problem

log = logging.getLogger(__name__)
BATCH = 50


def _int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number or None


def _person_name(item: dict[str, Any]) -> str:
    parts = [item.get("name") or item.get("NAME"), item.get("lastName") or item.get("LAST_NAME")]
    return " ".join(str(p) for p in parts if p).strip()


def target_of(inst: Installation, title: Callable[[str, date, date], str] | None = None) -> Target:
    return Target(int(inst.entity_type_id or 0), inst.category_id, inst.stage_map.get("P"), dict(inst.field_map),
                  title, dict(inst.enum_map))


def read_people(client: RestClient) -> list[Person]:
    people: list[Person] = []
    start: int | None = 0
    while start is not None and start < 5000:
        resp = client.call_raw("user.get", {"FILTER": {"ACTIVE": True}, "start": start})
        for u in resp.result or []:
            people.append(Person(int(u["ID"]), _person_name(u), str(u.get("EMAIL") or "")))
        start = resp.next
    return people


def read_clients(client: RestClient, entries: Iterable[Entry]) -> dict[Client, str]:
    """Every client an entry may be: those named by id, and all companies and contacts when one is named."""
    entries = list(entries)
    ids: dict[str, set[int]] = {"company": set(), "contact": set()}
    by_name = False
    for entry in entries:
        if entry.client.kind and entry.client.id:
            ids[entry.client.kind].add(entry.client.id)
        else:
            by_name = True
    found: dict[Client, str] = {}
    if by_name:
        for item in client.list_all("crm.item.list", {"entityTypeId": COMPANY, "select": ["id", "title"]},
                                    items_key="items"):
            found[("company", int(item["id"]))] = str(item.get("title") or "")
        for item in client.list_all("crm.item.list", {"entityTypeId": CONTACT, "select": ["id", "name", "lastName"]},
                                    items_key="items"):
            found[("contact", int(item["id"]))] = _person_name(item)
    for kind, eti, select in (("company", COMPANY, ["id", "title"]), ("contact", CONTACT, ["id", "name", "lastName"])):
        missing = sorted(i for i in ids[kind] if (kind, i) not in found)
        if missing:
            for item in client.get_many(eti, missing, select=select):
                found[(kind, int(item["id"]))] = (str(item.get("title") or "") if kind == "company"
                                                  else _person_name(item))
    return found


def read_plans(client: RestClient, inst: Installation, begin: date, end: date) -> list[ExistingPlan]:
    """Every plan whose period overlaps ``begin``..``end``."""
    fm = inst.field_map
    select = ["id", "title", "companyId", "contactId", "begindate", "closedate", "opportunity", "currencyId",
              "assignedById", *(fm[s] for s in ("PROBABILITY", "RECURRENCE") if s in fm)]
    rows = client.list_all("crm.item.list", {"entityTypeId": inst.entity_type_id, "select": select,
                                             "filter": {"<=begindate": end.isoformat(),
                                                        ">=closedate": begin.isoformat()}}, items_key="items")
    plans = []
    for item in rows:
        company, contact = _int(item.get("companyId")), _int(item.get("contactId"))
        start, stop = parse_date(item.get("begindate")), parse_date(item.get("closedate"))
        if not (company or contact) or start is None or stop is None:
            continue
        probability = item.get(fm["PROBABILITY"]) if "PROBABILITY" in fm else None
        plans.append(ExistingPlan(
            int(item["id"]), ("company", company) if company else ("contact", contact or 0), start, stop,
            Decimal(str(item.get("opportunity") or 0)), str(item.get("currencyId") or ""),
            _int(item.get("assignedById")),
            Decimal(str(probability)) if probability not in (None, "") else None,
            recurrence_of(item, fm, inst.enum_map), str(item.get("title") or "")))
    return plans


def read_directory(client: RestClient, inst: Installation, entries: list[Entry]) -> Directory:
    rows = client.call("crm.currency.list", {}) or []
    currencies: dict[str, int] = {}
    base = ""
    for row in rows:
        try:
            currencies[str(row["CURRENCY"])] = max(int(str(row.get("DECIMALS") or "2")), 0)
        except ValueError:
            currencies[str(row["CURRENCY"])] = 2
        if str(row.get("BASE", "N")).upper() == "Y":
            base = str(row["CURRENCY"])
    plans: list[ExistingPlan] = []
    if entries:
        plans = read_plans(client, inst, min(e.begin for e in entries), max(e.end for e in entries))
    people = read_people(client)
    return Directory(read_clients(client, entries), people, currencies, base or next(iter(currencies), "USD"),
                     plans, emails_known=any(p.email for p in people))


def changes_for(client: RestClient, inst: Installation, entries: list[Entry],
                problems: list[Problem] | None = None,
                title: Callable[[str, date, date], str] | None = None) -> ChangeSet:
    """The change set of ``entries`` against the portal as it is now (the dry run)."""
    return plan_changes(entries, read_directory(client, inst, entries), target_of(inst, title), problems)


def audit_write(db: Any, inst: Installation, changes: ChangeSet, report: WriteReport, actor: str,
                source: str) -> None:
    """One audit row per write: what was asked, what was written, what failed (counts only)."""
    from b24app.installations import audit

    audit(db, inst.member_id, "plans.imported", actor=actor, source=source, create=changes.count("create"),
          change=changes.count("change"), unchanged=changes.count("unchanged"), written=len(report.written),
          failed=len(report.failed), not_sent=len(report.not_sent), calls=report.calls)


@dataclass
class WriteReport:
    written: list[tuple[str, int | None]] = field(default_factory=list)  # (change key, plan id)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (change key, the portal's message)
    not_sent: list[str] = field(default_factory=list)  # change keys never sent
    calls: int = 0

    @property
    def complete(self) -> bool:
        return not self.failed and not self.not_sent


def write(client: RestClient, inst: Installation, changes: ChangeSet,
          progress: Callable[[int, int], None] | None = None) -> WriteReport:
    """Send the change set's creates and changes, 50 commands a batch; never called with errors in the set."""
    if not changes.ok:
        raise ValueError("a change set with errors is never written")
    target = target_of(inst)
    todo = changes.to_write
    report = WriteReport()
    for start in range(0, len(todo), BATCH):
        chunk = todo[start:start + BATCH]
        try:
            result = client.batch({c.key: c.command(target) for c in chunk})
        except B24Error as exc:
            log.warning("portal %s: plan batch %d failed: %s", inst.member_id, start // BATCH + 1, exc)
            report.failed += [(c.key, str(exc)) for c in chunk]
            report.not_sent += [c.key for c in todo[start + BATCH:]]
            return report
        report.calls += 1
        for change in chunk:
            if change.key in result.errors:
                report.failed.append((change.key, str(result.errors[change.key])))
                continue
            answer = result.result.get(change.key)
            item = answer.get("item") if isinstance(answer, dict) else None
            plan_id = _int(item.get("id")) if isinstance(item, dict) else change.plan_id
            report.written.append((change.key, plan_id))
            change.plan_id = plan_id
        if progress is not None:
            progress(min(start + BATCH, len(todo)), len(todo))
    return report


def plan_changes_failed(problems: list[Problem]) -> ChangeSet:
    """The change set of a file that could not be read: its problems and nothing to write."""
    return ChangeSet(problems=list(problems))


def report_lines(changes: ChangeSet, gettext: Callable[[str], str] = lambda s: s) -> list[str]:
    """The dry run's report, one line per problem and per plan to create or change, then the counts."""
    lines = [("ERROR " if p.error else "note  ") + p.text(gettext) for p in changes.problems]
    for change in changes.changes:
        if change.action == "unchanged":
            continue
        what = ", ".join(f"{name} {before or '-'} -> {after}" if before else f"{name} {after}"
                         for name, before, after in change.diff)
        plan = f" #{change.plan_id}" if change.plan_id else ""
        notes = "".join(f" [{gettext(n)}]" for n in change.notes)
        lines.append(f"{change.action:9} {change.client[0]}:{change.client[1]} {change.client_name!r} "
                     f"{change.period}{plan}: {what}{notes}")
    lines.append(f"{changes.count('create')} to create, {changes.count('change')} to change, "
                 f"{changes.count('unchanged')} unchanged, {len(changes.errors)} problem(s)")
    return lines


def write_lines(changes: ChangeSet, report: WriteReport) -> list[str]:
    by_key = {c.key: c for c in changes.to_write}

    def name(key: str) -> str:
        c = by_key[key]
        return f"{c.client[0]}:{c.client[1]} {c.period}"

    lines = [f"written: {len(report.written)} plan(s) in {report.calls} batch call(s)"]
    lines += [f"FAILED {name(key)}: {message}" for key, message in report.failed]
    if report.not_sent:
        lines.append(f"not written: {len(report.not_sent)} plan(s): " + ", ".join(name(k) for k in report.not_sent[:20])
                     + (" …" if len(report.not_sent) > 20 else ""))
    if not report.complete:
        lines.append("run the same import again to finish: what was written is left as it is")
    return lines
