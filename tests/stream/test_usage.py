"""Usage arithmetic."""

from streamwise.stream import add_usage, empty_usage, normalize_usage


def test_normalize_fills_missing_keys_and_total() -> None:
    assert normalize_usage({"inputTokens": 3, "outputTokens": 4}) == {
        "inputTokens": 3, "outputTokens": 4, "totalTokens": 7,
        "reasoningTokens": 0, "cachedInputTokens": 0,
    }  # fmt: skip
    assert normalize_usage(None) == empty_usage()
    assert normalize_usage({"inputTokens": True, "totalTokens": 9})["inputTokens"] == 0
    assert normalize_usage({"totalTokens": 9})["totalTokens"] == 9


def test_add_usage_adds_every_key() -> None:
    total = empty_usage()
    add_usage(total, normalize_usage({"inputTokens": 1, "outputTokens": 2, "reasoningTokens": 1}))
    add_usage(total, normalize_usage({"inputTokens": 1, "cachedInputTokens": 5}))
    assert total == {"inputTokens": 2, "outputTokens": 2, "totalTokens": 4,
                     "reasoningTokens": 1, "cachedInputTokens": 5}  # fmt: skip
