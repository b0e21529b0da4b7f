"""Scoring rules as pure functions: late policies, the not-submitted rule, grader errors."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from autograder.results import AssignmentResult, CheckResult, Outcome, StudentResult, TaskResult
from autograder.scoring import LatePolicy, assignment_result, format_duration, lateness, not_submitted

DUE = datetime(2026, 10, 1, 23, 59, tzinfo=timezone.utc)


def test_36_hours_late_under_10_percent_per_started_day_costs_20_percent():
    late = lateness(DUE + timedelta(hours=36), DUE, LatePolicy("percent_per_day", percent=10))
    assert late.late and late.late_by_s == 36 * 3600
    assert late.penalty_percent == 20
    assert "2 started days x 10%" in late.reason and "36 h" in late.reason


@pytest.mark.parametrize("hours,percent", [(0.01, 10), (24, 10), (24.01, 20), (240, 100), (1000, 100)])
def test_percent_per_started_day_counts_started_days_and_caps(hours, percent):
    late = lateness(DUE + timedelta(hours=hours), DUE, LatePolicy("percent_per_day", percent=10))
    assert late.penalty_percent == percent


def test_percent_per_hour_with_a_grace_period_and_a_cap():
    policy = LatePolicy("percent_per_hour", percent=5, grace_minutes=30, max_penalty_percent=50)
    assert lateness(DUE + timedelta(minutes=29), DUE, policy).penalty_percent == 0
    assert not lateness(DUE + timedelta(minutes=29), DUE, policy).late
    assert "grace" in lateness(DUE + timedelta(minutes=29), DUE, policy).reason
    assert lateness(DUE + timedelta(minutes=31), DUE, policy).penalty_percent == 5      # 1 started hour
    assert lateness(DUE + timedelta(hours=2, minutes=31), DUE, policy).penalty_percent == 15
    capped = lateness(DUE + timedelta(days=3), DUE, policy)
    assert capped.penalty_percent == 50 and "capped at 50%" in capped.reason


def test_zero_and_none_policies():
    assert lateness(DUE + timedelta(seconds=1), DUE, LatePolicy("zero")).penalty_percent == 100
    flagged = lateness(DUE + timedelta(days=2), DUE, LatePolicy("none"))
    assert flagged.late and flagged.penalty_percent == 0 and "no late penalty" in flagged.reason


def test_on_time_no_time_and_no_due_date():
    policy = LatePolicy("percent_per_day", percent=10)
    on_time = lateness(DUE - timedelta(hours=1), DUE, policy)
    assert not on_time.late and on_time.penalty_percent == 0 and on_time.reason == "on time"
    unknown = lateness(None, DUE, policy)
    assert not unknown.late and "no submission time was known" in unknown.reason
    noted = lateness(None, DUE, policy, time_note="timestamp.txt could not be read")
    assert "timestamp.txt could not be read" in noted.reason
    assert lateness(DUE, None, policy) is None
    assert lateness(DUE + timedelta(days=1), DUE, policy, extended=True).extended
    assert "extended due date" in lateness(DUE + timedelta(days=1), DUE, policy, extended=True).reason


@pytest.mark.parametrize("kwargs", [{"policy": "weekly"}, {"policy": "percent_per_day", "percent": -1},
                                    {"max_penalty_percent": 120}, {"grace_minutes": -5}])
def test_invalid_policies_are_refused(kwargs):
    with pytest.raises(ValueError):
        LatePolicy(**kwargs)


def test_the_penalty_is_taken_from_the_raw_score_and_never_stored():
    checks = (CheckResult("a", "tensors.x", Outcome.PASSED), CheckResult("b", "tensors.x", Outcome.FAILED))
    result = AssignmentResult("tensors", (TaskResult("tensors.x", 100, checks),))
    assert result.points == 50 and result.final_points == 50
    late = result.__class__(**{**result.__dict__, "lateness": lateness(DUE + timedelta(hours=36), DUE,
                                                                        LatePolicy("percent_per_day", percent=10))})
    assert late.points == 50 and late.penalty_points == 10 and late.final_points == 40


def test_grader_errors_are_not_grades_and_stay_out_of_totals():
    ok = AssignmentResult("tensors", (TaskResult("tensors.x", 100, (CheckResult("a", "tensors.x", Outcome.PASSED),)),))
    broken = AssignmentResult("linear", (TaskResult("linear.y", 100, (
        CheckResult("a", "linear.y", Outcome.PASSED), CheckResult("b", "linear.y", Outcome.GRADER_ERROR))),))
    student = StudentResult("alice", (ok, broken))
    assert ok.graded and not broken.graded and not student.graded
    assert student.points == 100 and student.max_points == 100 and student.final_points == 100


def test_not_submitted_and_missing_checks():
    result = not_submitted("linear", {"linear_forward": 40, "Linear": 40, "make_mlp": 20},
                           ("linear.linear_forward", "linear.Linear", "linear.make_mlp"))
    assert not result.submitted and result.points == 0 and result.max_points == 100
    assembled = assignment_result("linear", {"linear_forward": 40, "Linear": 40, "make_mlp": 20},
                                  ("linear.linear_forward", "linear.Linear", "linear.make_mlp"),
                                  [CheckResult("c", "linear.Linear", Outcome.PASSED)],
                                  {"linear.make_mlp": "uses torch.nn.Linear"}, broken=["ImportError: x"])
    tasks = {t.task: t for t in assembled.tasks}
    assert tasks["linear.Linear"].points == 40
    assert tasks["linear.make_mlp"].penalty == "uses torch.nn.Linear"
    assert tasks["linear.linear_forward"].checks[0].outcome is Outcome.GRADER_ERROR
    assert not assembled.graded


def test_durations_for_people():
    assert format_duration(30) == "30 s"
    assert format_duration(36 * 3600) == "36 h"
    assert format_duration(3 * 86400 + 7200) == "3 d 2 h"
