"""Tests of the contact center engines and pages."""
