"""Mako templates of OpenCL C (package data)."""
