"""A failed Flink job's exception as the router reports it: first line and deepest cause."""

from __future__ import annotations

from services.router.adapters.flink_rest import failure_summary

TRACE = """org.apache.flink.runtime.JobException: Recovery is suppressed by NoRestartBackoffTimeStrategy
\tat org.apache.flink.runtime.executiongraph.failover.ExecutionFailureHandler.handleFailure(ExecutionFailureHandler.java:219)
Caused by: java.lang.Exception: Exception while creating StreamOperatorStateContext.
\tat org.apache.flink.streaming.api.operators.StreamTaskStateInitializerImpl.streamOperatorStateContext(X.java:1)
Caused by: org.apache.flink.util.FlinkException: Could not restore keyed state backend for KeyedProcessOperator_90bea66d_(2/2)
Caused by: org.apache.flink.util.StateMigrationException: The new key serializer (RowDataSerializer@46c3ed13) must be compatible with the previous key serializer (RowDataSerializer@314cbde1).
\tat org.apache.flink.runtime.state.heap.HeapRestoreOperation.restore(HeapRestoreOperation.java:1)
"""


def test_the_deepest_cause_says_why_a_restore_failed() -> None:
    """It keeps the top line and adds the root cause, where Flink names the incompatible serializer."""
    summary = failure_summary(TRACE)
    assert summary.startswith("org.apache.flink.runtime.JobException: Recovery is suppressed")
    assert summary.endswith(
        "(caused by org.apache.flink.util.StateMigrationException: The new key serializer "
        "(RowDataSerializer@46c3ed13) must be compatible with the previous key serializer (RowDataSerializer@314cbde1).)"
    )
    assert "\n" not in summary


def test_a_trace_without_causes_is_its_first_line() -> None:
    """It returns the first line alone when nothing caused it, and nothing for an empty trace."""
    assert failure_summary("java.lang.IllegalStateException: boom\n\tat x.y(Z.java:1)\n") == (
        "java.lang.IllegalStateException: boom"
    )
    assert failure_summary("") == ""
