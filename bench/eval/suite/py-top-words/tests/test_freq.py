from textstats.freq import render_box, top_words


def test_case_and_punctuation_are_ignored():
    assert top_words("The cat. the CAT, the dog!") == [("the", 3), ("cat", 2), ("dog", 1)]


def test_ties_alphabetical():
    assert top_words("b a c a b", 2) == [("a", 2), ("b", 2)]
    assert top_words("zeta alpha mid") == [("alpha", 1), ("mid", 1), ("zeta", 1)]


def test_apostrophes_inside_words_stay():
    assert top_words("Don't stop, don't 'quote'") == [("don't", 2), ("quote", 1), ("stop", 1)]


def test_box():
    assert render_box("Go go GO, stop.", 1) == "go: 3"
