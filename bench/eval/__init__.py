"""The edit evaluation: a suite of small projects (a selection, an instruction, hidden tests)
and the harness that runs ``fathom edit --apply`` on each and then the tests (issue 21)."""
