"""The console's limits on their own: the token check, rate buckets, link lateness."""

from mobile_vla_web.limits import AUTH_FAILURE_BURST, ClockOffset, TokenBucket, TokenCheck

TOKEN = 'a-token-long-enough-for-the-check'


def test_a_bucket_gives_its_burst_then_its_rate():
    bucket = TokenBucket(rate=2.0, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert not bucket.take(0.4) and bucket.take(0.5)  # one token back after 0.5 s
    assert bucket.refill(100.0) == 3  # never more than the burst
    assert bucket.refill(50.0) == 3  # a clock that went back adds nothing


def test_the_token_is_compared_whole_and_anything_else_is_wrong():
    check = TokenCheck(TOKEN)
    assert check.ok(TOKEN)
    for wrong in (None, '', TOKEN[:-1], TOKEN + 'x', 42, '\udcff', [TOKEN]):
        assert not check.ok(wrong)


def test_a_short_token_is_refused_at_start():
    try:
        TokenCheck('short')
    except ValueError as exc:
        assert '16 characters' in str(exc)
    else:
        raise AssertionError('a short token was taken')


def test_wrong_tokens_from_one_address_slow_it_down_but_never_lock_out_the_right_one():
    check = TokenCheck(TOKEN)
    replies = [check.refusal('10.0.0.7', 'wrong', 0.0) for _ in range(AUTH_FAILURE_BURST + 1)]
    assert [r.status for r in replies] == [401] * AUTH_FAILURE_BURST + [429]
    assert 'token' in replies[0].body['error'] and 'wait' in replies[-1].body['error']
    assert check.refusal('10.0.0.7', TOKEN, 0.0) is None  # the right token still works
    assert check.refusal('10.0.0.8', 'wrong', 0.0).status == 401  # another address: 401


def test_lateness_is_measured_against_the_links_own_fastest_message():
    offset = ClockOffset(window_s=30.0)
    # The sender's clock is 1000 s off and the link takes 0.05 s: not late.
    assert offset.lateness(1.0, 1001.05) == 0.0
    assert abs(offset.lateness(1.1, 1001.15)) < 1e-9
    assert abs(offset.lateness(1.2, 1001.75) - 0.5) < 1e-9  # held up 0.5 s by a stall
    # After the window the old fastest message is forgotten: a new delay is the norm.
    assert offset.lateness(40.0, 1040.3) == 0.0
