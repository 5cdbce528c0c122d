"""Analytical CRM: segmentation, lifetime value and the reports built on them.

The modelling engines here are plain Python with NumPy/SciPy and import nothing from
Django, so analysts can run them from the ``guanxi clv`` / ``guanxi rfm`` commands and
benchmarks can time them on their own:

* :mod:`guanxi.analytics.clv` — BG/NBD, Pareto/NBD and Gamma-Gamma lifetime value models.
* :mod:`guanxi.analytics.rfm` — recency/frequency/monetary quintile scores and value tiers.
* :mod:`guanxi.analytics.commands` — the command-line front for both.
"""
