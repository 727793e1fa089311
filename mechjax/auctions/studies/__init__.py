"""Auction studies behind computed results tables (``mechjax.auctions.tables``): each function
runs one study and returns the table's markdown body and the data behind it."""
