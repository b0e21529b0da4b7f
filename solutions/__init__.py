"""Reference solutions: imported by the grader only, never by student code."""
