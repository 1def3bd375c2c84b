"""Tests (a package, so that test modules have unique names)."""
