"""HTTP edge: thin routers over the domain packages. Transactions commit here."""
