"""The shim's decoder of a tick's group reads (perf.decode_group_reads) says of every read what the
model's Python decoder and stop test say (perf_abi.parse_group_read, has_stopped), and writes whole
reads, and only those, to their rows: on random reads, short, over-claiming, detached and stopped."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pmutop.kernel import perf
from pmutop.model.perf_abi import STOPPED_SLACK_NS, MalformedRead, group_read_words, has_stopped, parse_group_read

times = st.integers(0, 2**62)


@st.composite
def tick_reads(draw):
    """Groups with their checks, the reads the kernel gave them, and the clocks around the reads."""
    count = draw(st.integers(1, 6))
    members = [draw(st.integers(1, 4)) for _ in range(count)]
    words_per_fd = group_read_words(max(members) + draw(st.integers(0, 1)))
    before = draw(times)
    status, words, looks = [], [], []
    for held in members:
        claimed = held if draw(st.integers(0, 5)) else draw(st.integers(0, 6))
        enabled = draw(times)
        read = [claimed, enabled, draw(times)]
        for _ in range(claimed):
            read += [draw(st.integers(0, 2**64 - 1)), draw(st.integers(0, 2**16))]
        read = (read + [0] * words_per_fd)[:words_per_fd]
        whole = 8 * min(group_read_words(claimed), words_per_fd)
        status.append(draw(st.sampled_from((whole, whole, whole, whole - 8, 8, 0, -5))))
        words += read
        # The last look: time_enabled grown with the clock since (running on), or less (stopped).
        elapsed = draw(st.integers(0, 2 * STOPPED_SLACK_NS))
        looks.append((max(0, enabled - draw(st.sampled_from((elapsed, 0, elapsed // 2)))), max(0, before - elapsed)))
    return members, words_per_fd, status, words, looks, before


@settings(max_examples=300, deadline=None)
@given(tick_reads(), st.booleans(), st.integers(1, 4))
def test_decoded_reads_match_the_python_decoder_and_stop_test(drawn, stop_check, width):
    members, words_per_fd, status, words, looks, before = drawn
    after = before + 1000
    count = len(members)
    rows = list(range(count - 1, -1, -1))  # rows in another order than the reads
    checks = perf.GroupChecks.of(rows, members, [7] * count, looks)
    present = np.zeros(count + 1, bool)
    meta = np.zeros((count + 1, 4), np.int64)
    values = np.zeros((count + 1, width), np.uint64)
    troubled, verdict = perf.decode_group_reads(
        np.array(status, np.int32),
        np.array(words, np.uint64),
        words_per_fd,
        checks,
        stop_check,
        before,
        after,
        STOPPED_SLACK_NS,
        present,
        meta,
        values,
    )
    expected_present = [False] * (count + 1)
    for index, held in enumerate(members):
        row = rows[index]
        look = looks[index]
        decoded = (
            parse_group_read(words[index * words_per_fd : (index + 1) * words_per_fd], 0, status[index] // 8)
            if status[index] > 0
            else None
        )
        if decoded is None:
            assert verdict[index] == perf.READ_NO_ANSWER
        elif isinstance(decoded, MalformedRead):
            assert verdict[index] == perf.READ_MALFORMED
        else:
            enabled, running, read_values = decoded
            stopped = stop_check and has_stopped(look[0], look[1], enabled, before)
            look = (enabled, after)
            if stopped or len(read_values) != held:
                assert verdict[index] == perf.READ_GONE
            else:
                assert verdict[index] == perf.READ_WHOLE
                expected_present[row] = True
                assert meta[row].tolist() == [enabled, running, 7, held]
                kept = list(read_values[:width])
                assert values[row].tolist() == kept + [0] * (width - len(kept))
        assert (int(checks.looked_enabled[index]), int(checks.looked_at[index])) == look
    assert present.tolist() == expected_present
    assert troubled == int((verdict != perf.READ_WHOLE).sum())
    # A row no whole read went to is left as it was.
    assert not meta[~present].any() and not values[~present].any()
