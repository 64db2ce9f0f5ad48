from services.gateway.limits import RateLimiter


def test_an_actor_is_limited_per_minute_and_told_when_to_retry() -> None:
    limiter = RateLimiter(per_minute=3)
    assert [limiter.retry_after("actor:a", now=120.0) for _ in range(3)] == [0, 0, 0]
    assert limiter.retry_after("actor:a", now=130.0) == 50
    assert limiter.retry_after("actor:b", now=130.0) == 0  # others are not affected
    assert limiter.retry_after("actor:a", now=180.0) == 0  # a new minute
