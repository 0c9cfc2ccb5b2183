"""From a step's plan to its screens, in one table: each blocker type has the dialog that resolves it, each plan
type that a person reviews first has its screen. :meth:`WizardHost.walk` drives a step through them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..engine.steps.base import (
    AlreadyPassed,
    Approval,
    Blocker,
    ChangeFiles,
    ChooseApproach,
    Confirm,
    MakeBackup,
    MakeCommit,
    ManualEdit,
    MissingAnswers,
    Plan,
    PlanInput,
    Prerequisite,
    ReviewChanges,
    RunCommands,
    SaveAnswers,
    StaleBuild,
    UnprovenClaims,
    UpdateDocuments,
)
from .host import WizardHost
from .screens.dialogs import ChoiceDialog, ConfirmScreen, DiffScreen

if TYPE_CHECKING:
    from textual.screen import Screen


# --- what a dialog can decide --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cancel:
    """Leave the step as it is."""


@dataclass(frozen=True, slots=True)
class Grant:
    """The person approved something; merged into the approval so far."""

    approval: Approval


@dataclass(frozen=True, slots=True)
class Replan:
    """Answers were recorded (or inputs changed): plan the step again."""

    request: PlanInput | None = None


@dataclass(frozen=True, slots=True)
class RunFirst:
    """Run another step first (``confirmed``: the person's choice already confirms it), then come back."""

    step_id: str
    confirmed: bool = False


@dataclass(frozen=True, slots=True)
class OpenEditor:
    """Open the person's editor at the place the step names, then plan again."""


Decision = Cancel | Grant | Replan | RunFirst | OpenEditor
Resolver = Callable[["WizardHost", Plan, Any], Awaitable[Decision]]


def merge(a: Approval, b: Approval) -> Approval:
    return Approval(
        confirmed=a.confirmed or b.confirmed,
        run_stale=a.run_stale or b.run_stale,
        again=a.again or b.again,
        allow_unproven=a.allow_unproven or b.allow_unproven,
    )


# --- the screens that fill in answers, by plan type ----------------------------------------------------------------


def _form_screen(plan: Plan) -> Screen[Any]:
    from .screens.forms import FormScreen

    return FormScreen(plan)


def _choice_screen(plan: Plan) -> Screen[Any]:
    from .screens.forms import ChoiceScreen

    return ChoiceScreen(plan)


ANSWER_SCREENS: dict[type[Plan], Callable[[Plan], Screen[Any]]] = {
    SaveAnswers: _form_screen,
    ChooseApproach: _choice_screen,
    UpdateDocuments: _form_screen,
    MakeCommit: _form_screen,
}


# --- one resolver per blocker type ----------------------------------------------------------------------------------


async def _answers(app: WizardHost, plan: Plan, blocker: MissingAnswers) -> Decision:
    done = await app.push_screen_wait(ANSWER_SCREENS[type(plan)](plan))
    return Replan() if done else Cancel()


async def _confirm(app: WizardHost, plan: Plan, blocker: Confirm) -> Decision:
    yes = await app.push_screen_wait(ConfirmScreen(blocker.question, blocker.detail))
    return Grant(Approval(confirmed=True)) if yes else Cancel()


async def _review(app: WizardHost, plan: Plan, blocker: ReviewChanges) -> Decision:
    title = f"{plan.step.id} {plan.step.title}"
    yes = await app.push_screen_wait(DiffScreen(title, blocker.diff, question=blocker.question.capitalize()))
    return Grant(Approval(confirmed=True)) if yes else Cancel()


async def _stale(app: WizardHost, plan: Plan, blocker: StaleBuild) -> Decision:
    choice = await app.push_screen_wait(
        ChoiceDialog(
            f"{plan.step.id} would run an old binary",
            f"{blocker.reason}.\n\nRebuild now runs step {blocker.build_step}, then {plan.step.id}. Run anyway "
            "tests the binary as it is, and the record says so.",
            [("b", f"rebuild now ({blocker.build_step})", "rebuild"), ("a", "run anyway", "run")],
        )
    )
    if choice == "rebuild":
        return RunFirst(blocker.build_step, confirmed=True)
    if choice == "run":
        return Grant(Approval(run_stale=True))
    return Cancel()


async def _manual(app: WizardHost, plan: Plan, blocker: ManualEdit) -> Decision:
    where = f" ({blocker.where})" if blocker.where else ""
    choice = await app.push_screen_wait(
        ChoiceDialog(
            f"{plan.step.id} is a change you make by hand",
            f"Nothing has been changed yet in {blocker.path}{where}. Open your editor at line {blocker.line}; once "
            "you save and close it, the wizard shows the diff and checks the result.",
            [("e", "open the editor", "edit")],
        )
    )
    return OpenEditor() if choice == "edit" else Cancel()


async def _prerequisite(app: WizardHost, plan: Plan, blocker: Prerequisite) -> Decision:
    if blocker.step is None:
        app.notify(blocker.reason, severity="error", timeout=10)
        return Cancel()
    choice = await app.push_screen_wait(
        ChoiceDialog(
            f"{plan.step.id} needs step {blocker.step} first",
            blocker.reason,
            [("r", f"run {blocker.step} now", "run")],
        )
    )
    return RunFirst(blocker.step) if choice == "run" else Cancel()


async def _again(app: WizardHost, plan: Plan, blocker: AlreadyPassed) -> Decision:
    yes = await app.push_screen_wait(
        ConfirmScreen(
            f"{plan.step.id} passed. Run it again?", f"{blocker.summary}\nA new attempt replaces this verdict."
        )
    )
    return Grant(Approval(again=True)) if yes else Cancel()


async def _unproven(app: WizardHost, plan: Plan, blocker: UnprovenClaims) -> Decision:
    listed = "\n".join(f"• {c.sentence} — {c.measured}" for c in blocker.claims)
    choice = await app.push_screen_wait(
        ChoiceDialog(
            "The message says what the evidence does not show",
            f"{listed}\n\nCommit anyway and the record keeps that you acknowledged each of these.",
            [("y", "commit, acknowledging them", "ack")],
        )
    )
    return Grant(Approval(allow_unproven=True)) if choice == "ack" else Cancel()


BLOCKER_SCREENS: dict[type[Blocker], Resolver] = {
    MissingAnswers: _answers,
    Confirm: _confirm,
    ReviewChanges: _review,
    StaleBuild: _stale,
    ManualEdit: _manual,
    Prerequisite: _prerequisite,
    AlreadyPassed: _again,
    UnprovenClaims: _unproven,
}


# --- plans a person reviews before anything else --------------------------------------------------------------------


async def _review_commit(app: WizardHost, plan: Plan) -> tuple[PlanInput, Approval] | None:
    from .screens.commit import CommitScreen

    assert isinstance(plan, MakeCommit)
    result: tuple[PlanInput, Approval] | None = await app.push_screen_wait(CommitScreen(plan))
    return result


REVIEW_SCREENS: dict[type[Plan], Callable[[WizardHost, Plan], Awaitable[tuple[PlanInput, Approval] | None]]] = {
    MakeCommit: _review_commit,
}

# Every plan type, for the check that each has a way through the UI.
PLAN_TYPES: tuple[type[Plan], ...] = (
    RunCommands,
    MakeBackup,
    ChangeFiles,
    SaveAnswers,
    ChooseApproach,
    MakeCommit,
    UpdateDocuments,
)
