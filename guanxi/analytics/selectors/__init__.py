"""Every read of the analytics domain, with the access check inside: ``visibility`` (which
customers and accounts a user's reports may count), ``scores`` (RFM, tiers, lifetime
value and churn of customers), ``analyses`` (the built-in analyses), ``reports`` (saved
reports and the report builder) and ``dashboards``."""
