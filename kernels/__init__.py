"""OpenCL helper sources (*.cl) included by the templates; shipped as package data."""
