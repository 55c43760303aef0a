"""``hawiya cases``: the adjudication queue of potential duplicates."""

from __future__ import annotations

from typing import Annotated

import typer

from hawiya.cli.common import (
    DataDir,
    JsonOut,
    Operator,
    act_as,
    candidates_table,
    emit,
    handles_errors,
    open_platform,
    out,
)

app = typer.Typer(help="Adjudication queue of potential duplicates.", no_args_is_help=True)


@app.command("list")
@handles_errors
def cases_list(status: str = "open", data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Potential duplicates awaiting (or past) adjudication."""
    from hawiya.identity import adjudication

    rows = adjudication.list_cases(open_platform(data_dir), status)

    def render(r):
        for c in r["cases"]:
            waiting = (f", '{c['proposed_decision']}' proposed by {c['proposed_by']}: awaiting "
                       "confirmation" if c.get("awaiting_confirmation") else "")
            out.print(f"case {c['case_id']}: {c['person']['person_id']} "
                      f"({c['person']['name']}) [{c['status']}{waiting}]")
            candidates_table(c["candidates"], "  matches")
    emit({"cases": [c.to_json() for c in rows]}, as_json, render)


@app.command("show")
@handles_errors
def cases_show(case_id: int, data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """One case with its evidence: per-modality scores of each candidate and the kept
    captures (their URLs on the API)."""
    from hawiya.identity import adjudication

    res = adjudication.get_case(open_platform(data_dir), case_id)

    def render(r):
        out.print(f"case {r['case_id']} [{r['status']}]: {r['person']['person_id']} "
                  f"({r['person']['name']}), enrolled by {r['enrolled_by']}")
        if r["awaiting_confirmation"]:
            out.print(f"  'distinct' proposed by {r['proposed_by']}: awaiting a second "
                      "adjudicator")
        for m in r["matches"]:
            scores = ", ".join(f"{k} {v['score']:.4f} (evidence {v['evidence']:.2f})"
                               for k, v in m["modalities"].items())
            out.print(f"  candidate {m['person']['person_id']} ({m['person']['name']}): "
                      f"{scores}")
        for party in [r["probe"], *r["matches"]]:
            for c in party["captures"]:
                out.print(f"  capture {c['person_id']} {c['modality']}:{c['position']} "
                          f"{c['url']}")
    emit(res, as_json, render)


@app.command("decide")
@handles_errors
def cases_decide(case_id: int, decision: Annotated[str, typer.Argument(
        help="distinct | duplicate")], duplicate_of: str | None = None,
                 note: str | None = None, operator: Operator = None,
                 data_dir: DataDir = None, as_json: JsonOut = False) -> None:
    """Decide a case: the held person is distinct (activate) or a duplicate (merge)."""
    from hawiya.identity import adjudication

    platform = open_platform(data_dir)
    actor = act_as(platform, operator, "adjudicator", label=False)  # four-eyes compares it
    res = adjudication.decide_case(platform, case_id, decision, actor=actor,
                                   duplicate_of=duplicate_of, note=note)
    platform.close()

    def render(r):
        if r["awaiting_confirmation"]:
            out.print(f"case {r['case_id']}: '{r['proposed_decision']}' proposed by "
                      f"{r['proposed_by']}; it takes effect when a second adjudicator confirms")
        else:
            out.print(f"case {r['case_id']}: {r['decision']} → {r['person']['person_id']} is "
                      f"{r['person']['status']}")
    emit(res, as_json, render)
