"""Template colours: one scheme for the app's charts and the exported reports. A template takes a shade of its
objective's family (Filling orange-red, Mapping blue, mixed violet), in the order the experiment lists them."""

from __future__ import annotations

from collections.abc import Mapping

from mto_studio.core.templates.model import Objective

OBJECTIVE_COLOURS = {Objective.FILLING: "#e8590c", Objective.MAPPING: "#1c7ed6", Objective.MIXED: "#7048e8"}
FAMILY_COLOURS = {
    Objective.FILLING: [OBJECTIVE_COLOURS[Objective.FILLING], "#c2255c", "#f59f00", "#a61e4d"],
    Objective.MAPPING: [OBJECTIVE_COLOURS[Objective.MAPPING], "#0c8599", "#364fc7", "#1098ad"],
    Objective.MIXED: [OBJECTIVE_COLOURS[Objective.MIXED], "#ae3ec9", "#862e9c"],
}
#: for templates whose objective is unknown, or once a family's shades are used up
PALETTE = ["#2f9e44", "#e67700", "#5c940d", "#495057", "#d6336c", "#1971c2"]


def template_colours(templates: list[str], objectives: Mapping[str, Objective | None]) -> dict[str, str]:
    """A colour per template, stable for a given list: the same in the Trainer's curves and in report.md's PNGs."""
    colours: dict[str, str] = {}
    used = dict.fromkeys(FAMILY_COLOURS, 0)
    spare = 0
    for template in templates:
        family = objectives.get(template)
        if family in FAMILY_COLOURS and used[family] < len(FAMILY_COLOURS[family]):
            colours[template] = FAMILY_COLOURS[family][used[family]]
            used[family] += 1
        else:
            colours[template] = PALETTE[spare % len(PALETTE)]
            spare += 1
    return colours


def library_colours(templates: list[str]) -> dict[str, str]:
    """``template_colours`` with each template's objective looked up in the built-in library (by name)."""
    from mto_studio.core.errors import MtoError
    from mto_studio.core.templates.library import TemplateLibrary

    library = TemplateLibrary()
    objectives: dict[str, Objective | None] = {}
    for name in templates:
        try:
            objectives[name] = library.get(name).objective
        except MtoError:
            objectives[name] = None
    return template_colours(templates, objectives)
