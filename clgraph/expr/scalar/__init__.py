"""Scalar ops."""
