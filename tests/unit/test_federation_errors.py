"""The one status table: each exception maps to its code; anything else is bare INTERNAL."""

from __future__ import annotations

import grpc
import pytest

from federation import errors
from federation.errors import INTERNAL_DETAILS, STATUS_TABLE, status_for

ROWS = [
    (errors.MissingEnvelope, grpc.StatusCode.UNAUTHENTICATED),
    (errors.GarbledEnvelope, grpc.StatusCode.UNAUTHENTICATED),
    (errors.BadSignature, grpc.StatusCode.UNAUTHENTICATED),
    (errors.ReplayedRequest, grpc.StatusCode.UNAUTHENTICATED),
    (errors.OutsideClockWindow, grpc.StatusCode.UNAUTHENTICATED),
    (errors.UnknownKey, grpc.StatusCode.PERMISSION_DENIED),
    (errors.NotTheTlsPeer, grpc.StatusCode.PERMISSION_DENIED),
    (errors.UnsupportedSchema, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.OverBudget, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (errors.TooManyStreams, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (errors.Oversized, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (errors.SlowRequest, grpc.StatusCode.DEADLINE_EXCEEDED),
    (errors.InvalidQuestion, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.StateUnavailable, grpc.StatusCode.UNAVAILABLE),
    (errors.NotServed, grpc.StatusCode.UNIMPLEMENTED),
    (errors.EpochOver, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.FederationError, grpc.StatusCode.INTERNAL),
]


@pytest.mark.parametrize(("cls", "code"), ROWS, ids=[cls.__name__ for cls, _ in ROWS])
def test_each_error_maps_to_its_status_with_its_message(cls: type[Exception],
                                                        code: grpc.StatusCode) -> None:
    got_code, details = status_for(cls("reason text"))
    assert got_code is code
    assert details == ("reason text" if code is not grpc.StatusCode.INTERNAL
                       else INTERNAL_DETAILS)


def test_every_table_row_is_covered() -> None:
    assert set(STATUS_TABLE) <= {cls for cls, _ in ROWS} | {errors.Unauthenticated}


@pytest.mark.parametrize("exc", [RuntimeError("/etc/secret 192.0.2.1"), KeyError("x"),
                                 ValueError("Traceback (most recent call last)")])
def test_foreign_exceptions_are_internal_with_no_detail(exc: Exception) -> None:
    assert status_for(exc) == (grpc.StatusCode.INTERNAL, INTERNAL_DETAILS)


def test_details_are_length_capped() -> None:
    _, details = status_for(errors.UnknownKey("k" * 10_000))
    assert len(details) <= 200


def test_repeated_refusals_are_logged_once_within_a_bounded_memory() -> None:
    from federation.server import LogOnce

    once = LogOnce(limit=2)
    assert [once.first(k) for k in ("a", "a", "b", "c", "a")] == [True, False, True, True, True]
