"""pipeline/streaming.add_stats: a conversation's stats over its rounds."""

from fathom.backend.engine import GenerationStats
from fathom.pipeline.streaming import add_stats


def test_rounds_add_up_and_the_first_token_counts_from_the_first_round():
    total = GenerationStats()
    add_stats(total, GenerationStats(prompt_tokens=500, completion_tokens=0, total_s=2.0))
    assert total.first_token_s is None  # nothing written yet
    add_stats(
        total,
        GenerationStats(prompt_tokens=600, completion_tokens=60, first_token_s=1.5, total_s=8.0),
    )
    add_stats(
        total,
        GenerationStats(prompt_tokens=700, completion_tokens=40, first_token_s=0.5, total_s=5.0),
    )
    assert (total.prompt_tokens, total.completion_tokens, total.total_s) == (1800, 100, 15.0)
    assert total.first_token_s == 3.5  # the second round's, after the first round's 2 s
