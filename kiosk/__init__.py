"""Hinge Mirror: a smart-mirror kiosk that coaches the hip hinge from a side-view camera."""

__version__ = "0.1.0"
