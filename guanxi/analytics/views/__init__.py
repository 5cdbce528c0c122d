"""Web pages of the analytics domain, by topic; ``urls.py`` maps them."""
