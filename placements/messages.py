"""User-facing texts for the form's error codes (placements/plan_form.py), in the user's language."""

from __future__ import annotations

from flask_babel import gettext, lazy_gettext

from placements.plan_form import FieldError

_TEXTS = {
    "client_missing": lazy_gettext("Choose the client (a company or a contact)."),
    "client_not_found": lazy_gettext("The client was not found or you cannot see it."),
    "period_unknown": lazy_gettext("Choose a period: month, quarter, year or custom dates."),
    "date_invalid": lazy_gettext("Enter a valid date."),
    "end_before_start": lazy_gettext("The end date cannot be before the start date."),
    "amount_required": lazy_gettext("Enter the plan's amount."),
    "amount_not_number": lazy_gettext("The amount must be a number."),
    "amount_too_large": lazy_gettext("The amount is too large: it must be less than a quadrillion (10¹⁵)."),
    "amount_not_positive": lazy_gettext("The amount must be greater than zero."),
    "amount_too_precise": lazy_gettext("The amount can have at most %(decimals)s decimals."),
    "currency_unknown": lazy_gettext("The currency is not one of the portal's currencies."),
    "probability_required": lazy_gettext("Enter the probability, from 0 to 100."),
    "probability_not_number": lazy_gettext("The probability must be a number from 0 to 100."),
    "probability_range": lazy_gettext("The probability must be between 0 and 100."),
    "responsible_unknown": lazy_gettext("Choose the responsible employee."),
    "deal_invalid": lazy_gettext("The list of deals is not valid."),
    "deal_not_found": lazy_gettext("Deal %(deal)s was not found or you cannot see it."),
    "deal_other_client": lazy_gettext("Deal %(deal)s belongs to another client."),
    "growth_range": lazy_gettext("The growth must be between -100 % and 1,000 %."),
    "cap_negative": lazy_gettext("The carry-over cap cannot be below zero."),
    "recurrence_period": lazy_gettext("A recurring plan must cover exactly one calendar month, quarter or year "
                                      "(as its recurrence says)."),
    "carry_no_predecessor": lazy_gettext("Only a plan that continues a previous one can carry an amount over."),
    "recurrence_unknown": lazy_gettext("Choose how the plan repeats."),
    "carryover_unknown": lazy_gettext("Choose a carry-over policy."),
    "series_not_number": lazy_gettext("This must be a number."),
}


def error_text(error: FieldError) -> str:
    text = _TEXTS.get(error.code)
    if text is None:
        return gettext("This value is not valid.")
    return str(text) % error.params if error.params else str(text)


def errors_by_field(errors: list[FieldError]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for error in errors:
        out.setdefault(error.field, []).append(error_text(error))
    return out
