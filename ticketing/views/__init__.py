"""The money side's pages, one module per sub-domain; urls.py routes to each."""
