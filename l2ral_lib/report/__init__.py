"""Reporting: reads the tidy results table, params and stored picks; never trains."""
