from service.storage.recent import Recent


def test_the_least_recently_used_key_is_forgotten_first() -> None:
    recent = Recent(2)
    recent.add("a")
    recent.add("b")
    recent.add("a")  # used again: now b is the oldest
    recent.add("c")
    assert ("a" in recent, "b" in recent, "c" in recent) == (True, False, True)
