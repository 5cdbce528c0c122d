"""Every write of the analytics domain, by topic: ``warehouse`` (refreshes), ``scoring``
(RFM, value tiers and lifetime value written back to customers), ``churn`` (training and
scoring the churn model, the retention list) and ``reports`` (saved reports, sharing,
schedules and exports)."""
