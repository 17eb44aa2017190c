"""Contamination: score benchmark entries against fmsearch indexes and publish the bulletin (see README.md)."""
